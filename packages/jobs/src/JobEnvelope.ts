/**
 * What a job row's `data` holds: the encoded payload and the W3C trace context of whoever
 * enqueued it, so the worker's span joins the producer's trace.
 */
import { Effect, Either, Option, ParseResult, Schema, Tracer } from "effect"

export interface JobEnvelope {
  /** The payload, encoded by its job's Schema. */
  readonly payload: unknown
  readonly traceparent?: string | undefined
}

/**
 * A job row's data as an envelope, or why it is not one. Checked by hand: this runs for
 * every job, and the payload inside is decoded by its own Schema next.
 */
export const read = (data: unknown): Either.Either<JobEnvelope, string> =>
  typeof data === "object" && data !== null && "payload" in data &&
    (!("traceparent" in data) || data.traceparent === undefined || typeof data.traceparent === "string")
    ? Either.right(data as JobEnvelope)
    : Either.left("The job's data is not a job envelope: expected { payload, traceparent? }")

/** The W3C `traceparent` of a span: version 00, trace id, span id, sampled flag. */
const traceparentOf = (span: Tracer.AnySpan): string =>
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

/**
 * Reads a job row's data with its job's payload Schema: the payload and the enqueuer's span,
 * or why the job can never run. Made once per worker; what it returns runs for every job.
 */
export const makeDecoder = <A, I>(payload: Schema.Schema<A, I>) => {
  const decodePayload = Schema.decodeUnknownEither(payload)
  return (data: unknown): Either.Either<{ readonly payload: A; readonly parent: Option.Option<Tracer.ExternalSpan> }, string> => {
    const envelope = read(data)
    if (Either.isLeft(envelope)) return Either.left(envelope.left)
    const decoded = decodePayload(envelope.right.payload)
    return Either.isLeft(decoded)
      ? Either.left(ParseResult.TreeFormatter.formatErrorSync(decoded.left))
      : Either.right({ payload: decoded.right, parent: parentSpan(envelope.right) })
  }
}
