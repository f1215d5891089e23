/**
 * Replies on a Slack channel: `chat.postMessage` in the customer's thread, with the app's bot
 * token as the channel's reply secret (`config.apiUrl` defaults to `https://slack.com/api`).
 * Slack answers HTTP 200 with `ok: false` and an error name for most failures: the ones a
 * person must fix (a revoked token, a channel the app is not in) stop; the others are retried,
 * and `ratelimited` (HTTP 429) waits the `Retry-After` it gives, when short, before trying once
 * more. The bot's own message comes back as an event with a `bot_id`, which intake ignores.
 *
 * Slack takes no idempotency key, so the message carries the reply's key in its metadata
 * (`event_type` nestfleet_reply). A retry first reads the thread (`conversations.replies`,
 * which needs the history scope the app reads messages with): a message carrying the key is
 * the reply, already posted, and is not posted again. When the thread cannot be read
 * (`ok: false`), the retry posts, and a crash after Slack posted shows the reply twice.
 */
import { type HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Duration, Effect, Option, Redacted, Schema } from "effect"
import { DeliveryFailed, execute, failureOfStatus, type Outgoing, type Receipt, requireReplySecret } from "./ReplyTarget.js"

export const defaultApiUrl = "https://slack.com/api"

/** The longest `Retry-After` waited for within one attempt; a longer one is left to the job's retry. */
export const maxRetryAfter = Duration.seconds(30)

/** Errors a person must fix; any other is retried. */
const lasting: ReadonlySet<string> = new Set([
  "not_authed",
  "invalid_auth",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "no_permission",
  "missing_scope",
  "channel_not_found",
  "not_in_channel",
  "is_archived",
  "thread_not_found",
  "msg_too_long",
  "invalid_arguments",
  "restricted_action"
])

const Config = Schema.Struct({ apiUrl: Schema.optional(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/))) })

/** The Slack channel and thread a case's thread names: `slack:<channel>:<thread ts>`. */
export const threadOf = (threadKey: string) => {
  const match = /^slack:([^:\s]+):(\d+\.\d+)$/.exec(threadKey)
  return match === null ? Option.none() : Option.some({ channel: match[1]!, threadTs: match[2]! })
}

/** How long a `ratelimited` answer asks to wait, if short enough to wait within the attempt. */
const retryAfter = (headers: Readonly<Record<string, string>>) => {
  const seconds = Number(headers["retry-after"])
  return Number.isFinite(seconds) && seconds >= 0 && Duration.lessThanOrEqualTo(Duration.seconds(seconds), maxRetryAfter)
    ? Effect.succeed(Duration.seconds(seconds))
    : Effect.fail(new DeliveryFailed({ reason: "Slack is rate-limiting the app (ratelimited)", permanent: false }))
}

const Answer = Schema.Struct({
  ok: Schema.Boolean,
  error: Schema.optional(Schema.String),
  ts: Schema.optional(Schema.String),
  channel: Schema.optional(Schema.String)
})

/** The metadata every reply is posted with, naming it. */
const eventType = "nestfleet_reply"

const Replies = Schema.Struct({
  ok: Schema.Boolean,
  messages: Schema.optional(Schema.Array(Schema.Struct({
    ts: Schema.String,
    metadata: Schema.optional(Schema.Struct({
      event_type: Schema.String,
      event_payload: Schema.optional(Schema.Struct({ key: Schema.optional(Schema.Unknown) }))
    }))
  })))
})

/** A Web API answer as `schema` reads it, or a failure that may heal. */
const answerOf = <A, I>(response: HttpClientResponse.HttpClientResponse, schema: Schema.Schema<A, I>) =>
  response.json.pipe(
    Effect.flatMap(Schema.decodeUnknown(schema)),
    Effect.mapError(() => new DeliveryFailed({ reason: "Slack's answer is not its Web API's", permanent: false }))
  )

/** Messages of the thread read for a reply an earlier attempt posted (the newest, where replies go). */
const repliesLimit = 200

export const send = (http: HttpClient.HttpClient, outgoing: Outgoing): Effect.Effect<Receipt, DeliveryFailed> =>
  Effect.gen(function*() {
    const config = yield* Schema.decodeUnknown(Config)(outgoing.channel.config).pipe(
      Effect.mapError(() => new DeliveryFailed({ reason: "The Slack channel's config.apiUrl is not an http or https URL", permanent: true }))
    )
    const thread = yield* Option.match(threadOf(outgoing.case.threadKey), {
      onNone: () => Effect.fail(new DeliveryFailed({ reason: "The case is not a Slack thread's", permanent: true })),
      onSome: Effect.succeed
    })
    const token = yield* requireReplySecret(outgoing, "bot token")
    const apiUrl = (config.apiUrl ?? defaultApiUrl).replace(/\/+$/, "")
    const authorization = { authorization: `Bearer ${Redacted.value(token)}` }

    if (outgoing.retried) {
      const read = yield* execute(
        http,
        HttpClientRequest.get(`${apiUrl}/conversations.replies`, {
          urlParams: { channel: thread.channel, ts: thread.threadTs, include_all_metadata: "true", limit: String(repliesLimit) },
          headers: authorization
        }),
        "Slack"
      )
      const failure = failureOfStatus(read.status, "Slack")
      if (failure !== null) return yield* failure
      const replies = yield* answerOf(read, Replies)
      const earlier = replies.messages?.find((message) =>
        message.metadata?.event_type === eventType && message.metadata.event_payload?.key === outgoing.key
      )
      if (earlier !== undefined) return { externalId: `slack:${thread.channel}:${earlier.ts}`, echoKeys: [] }
    }

    const request = HttpClientRequest.post(`${apiUrl}/chat.postMessage`).pipe(
      HttpClientRequest.setHeaders(authorization),
      HttpClientRequest.bodyText(
        JSON.stringify({
          channel: thread.channel,
          thread_ts: thread.threadTs,
          text: outgoing.reply.body,
          unfurl_links: false,
          metadata: { event_type: eventType, event_payload: { key: outgoing.key } }
        }),
        "application/json; charset=utf-8"
      )
    )
    const post = execute(http, request, "Slack")
    const first = yield* post
    const response = first.status === 429 ? yield* Effect.zipRight(Effect.sleep(yield* retryAfter(first.headers)), post) : first
    const failure = failureOfStatus(response.status, "Slack")
    if (failure !== null) return yield* failure
    const answer = yield* answerOf(response, Answer)
    if (!answer.ok) {
      const error = answer.error ?? "unknown_error"
      return yield* new DeliveryFailed({ reason: `Slack refused the message (${error})`, permanent: lasting.has(error) })
    }
    return { externalId: answer.ts === undefined ? null : `slack:${answer.channel ?? thread.channel}:${answer.ts}`, echoKeys: [] }
  })
