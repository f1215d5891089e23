/**
 * What a job row's `data` holds: the encoded payload and the W3C trace context of whoever
 * enqueued it, so the worker's span joins the producer's trace.
 */
import { Headers, HttpTraceContext } from "@effect/platform"
import { Effect, Option, Schema, Tracer } from "effect"

/** The envelope of a job whose payload is described by `payload`. */
export const schema = <A, I>(payload: Schema.Schema<A, I>) =>
  Schema.Struct({
    payload,
    traceparent: Schema.optional(Schema.String)
  })

export const JobEnvelope = schema(Schema.Unknown)
export type JobEnvelope = typeof JobEnvelope.Type

/** Wraps an encoded payload with the current span's trace context, when there is a span. */
export const wrap = (payload: unknown) =>
  Effect.map(Effect.currentSpan.pipe(Effect.option), (span): JobEnvelope =>
    Option.match(span, {
      onNone: () => ({ payload }),
      onSome: (span) => ({ payload, traceparent: HttpTraceContext.toHeaders(span).traceparent! })
    }))

/** The enqueuer's span, as a parent for the worker's span. */
export const parentSpan = (envelope: { readonly traceparent?: string | undefined }): Option.Option<Tracer.ExternalSpan> =>
  envelope.traceparent === undefined
    ? Option.none()
    : HttpTraceContext.w3c(Headers.unsafeFromRecord({ traceparent: envelope.traceparent }))
