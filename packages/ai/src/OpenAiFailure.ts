/**
 * How a request to an OpenAI-compatible server failed, sorted by what to do next: wait and
 * ask again (429, 5xx — when the server says how long, that long), give up at once (another
 * 4xx, an unreachable server), or stop waiting (a stalled response). The SDK's own retries
 * are off so that these decisions, and their waits, run on Effect's Clock.
 */
import { Data, Duration, Option, Schedule } from "effect"
import { APIConnectionError, APIConnectionTimeoutError, APIError } from "openai"

export type Failure = Data.TaggedEnum<{
  /** Worth another try: rate-limited or a server error. */
  Transient: { readonly status: number; readonly message: string; readonly retryAfter: Option.Option<Duration.Duration> }
  /** The server refused the request itself (400, 401, 404, 422, …): the same request would fail again. */
  Rejected: { readonly status: number; readonly message: string; readonly detail: string }
  TimedOut: { readonly message: string }
  Unreachable: { readonly message: string }
}>
export const Failure = Data.taggedEnum<Failure>()

const longestMessage = 500

const clip = (text: string) => text.length > longestMessage ? `${text.slice(0, longestMessage)}…` : text

/**
 * The wait a 429 or 503 asks for: `retry-after-ms` (OpenAI's), else `Retry-After` in seconds
 * or as an HTTP date, relative to `now` (Clock's, so tests control it).
 */
export const retryAfter = (headers: Headers | undefined, now: number): Option.Option<Duration.Duration> => {
  const milliseconds = headers?.get("retry-after-ms")
  if (milliseconds != null && /^\d+(\.\d+)?$/.test(milliseconds.trim())) {
    return Option.some(Duration.millis(Number(milliseconds)))
  }
  const value = headers?.get("retry-after")?.trim()
  if (value == null || value === "") return Option.none()
  if (/^\d+(\.\d+)?$/.test(value)) return Option.some(Duration.seconds(Number(value)))
  const date = Date.parse(value)
  return Number.isNaN(date) ? Option.none() : Option.some(Duration.millis(Math.max(0, date - now)))
}

/** What the SDK threw, sorted. `now` is Clock's time, for an HTTP-date `Retry-After`. */
export const classify = (error: unknown, now: number): Failure => {
  if (error instanceof APIConnectionTimeoutError) return Failure.TimedOut({ message: error.message })
  if (error instanceof APIError && typeof error.status === "number") {
    const status = error.status
    const message = clip(error.message)
    if (status === 429 || status >= 500) {
      return Failure.Transient({ status, message, retryAfter: retryAfter(error.headers, now) })
    }
    const detail = [error.message, error.param ?? "", error.code ?? "", JSON.stringify(error.error ?? null)].join(" ")
    return Failure.Rejected({ status, message, detail })
  }
  if (error instanceof APIConnectionError) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ""
    return Failure.Unreachable({ message: clip(`${error.message}${cause}`) })
  }
  return Failure.Unreachable({ message: clip(error instanceof Error ? error.message : String(error)) })
}

/**
 * Whether the server refused a request parameter it does not support (a 400 or 422 that
 * names it): `response_format` on servers without structured output, `dimensions` on
 * embedding models that cannot shorten their vectors.
 */
export const refusesParameter = (failure: Failure, parameter: RegExp): boolean =>
  failure._tag === "Rejected" && (failure.status === 400 || failure.status === 422) && parameter.test(failure.detail)

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number
  /** The longest wait between attempts; a server asking for longer is not retried here (the job retries later). */
  readonly maxWait: Duration.Duration
  /** The first wait when the server names none; it doubles with each retry. */
  readonly initialDelay: Duration.Duration
}

export const defaultRetryPolicy: RetryPolicy = {
  maxRetries: 3,
  maxWait: Duration.seconds(30),
  initialDelay: Duration.seconds(1)
}

const willRetry = (policy: RetryPolicy) => (failure: Failure): boolean =>
  failure._tag === "Transient" &&
  Option.match(failure.retryAfter, { onNone: () => true, onSome: Duration.lessThanOrEqualTo(policy.maxWait) })

/** Retries transient failures at most `maxRetries` times, waiting what the server asks, else backing off. */
export const retrySchedule = (policy: RetryPolicy) =>
  Schedule.exponential(policy.initialDelay).pipe(
    Schedule.intersect(Schedule.recurs(policy.maxRetries)),
    Schedule.intersect(Schedule.recurWhile(willRetry(policy))),
    Schedule.modifyDelay(([, failure], backoff) =>
      Duration.min(
        failure._tag === "Transient" ? Option.getOrElse(failure.retryAfter, () => backoff) : backoff,
        policy.maxWait
      )
    )
  )
