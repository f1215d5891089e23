/**
 * What a job row's `data` holds: the encoded payload and the W3C trace context of whoever
 * enqueued it, so the worker's span joins the producer's trace.
 */
import { Effect, Option, Schema, Tracer } from "effect"

/** The envelope of a job whose payload is described by `payload`. */
export const schema = <A, I>(payload: Schema.Schema<A, I>) =>
  Schema.Struct({
    payload,
    traceparent: Schema.optional(Schema.String)
  })

export const JobEnvelope = schema(Schema.Unknown)
export type JobEnvelope = typeof JobEnvelope.Type

/** The W3C `traceparent` of a span: version 00, trace id, span id, sampled flag. */
export const traceparentOf = (span: Tracer.AnySpan): string =>
  `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** Wraps an encoded payload with the current span's trace context, when there is a span. */
export const wrap = (payload: unknown) =>
  Effect.map(Effect.currentSpan.pipe(Effect.option), (span): JobEnvelope =>
    Option.isSome(span) ? { payload, traceparent: traceparentOf(span.value) } : { payload })

const traceparentFormat = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The enqueuer's span, as a parent for the worker's span: the W3C `traceparent` read
 * directly (this runs for every job; going through request headers cost more than the
 * rest of the decoding).
 */
export const parentSpan = (envelope: { readonly traceparent?: string | undefined }): Option.Option<Tracer.ExternalSpan> => {
  const match = envelope.traceparent === undefined ? null : traceparentFormat.exec(envelope.traceparent)
  return match === null
    ? Option.none()
    : Option.some(Tracer.externalSpan({ traceId: match[1]!, spanId: match[2]!, sampled: (parseInt(match[3]!, 16) & 1) === 1 }))
}
