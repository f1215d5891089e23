/**
 * Replies on a Slack channel: `chat.postMessage` in the customer's thread, with the app's bot
 * token as the channel's reply secret (`config.apiUrl` defaults to `https://slack.com/api`).
 * Slack answers HTTP 200 with `ok: false` and an error name for most failures: the ones a
 * person must fix (a revoked token, a channel the app is not in) stop; the others are retried,
 * and `ratelimited` (HTTP 429) waits the `Retry-After` it gives, when short, before trying once
 * more. The bot's own message comes back as an event with a `bot_id`, which intake ignores.
 *
 * Slack takes no idempotency key: a crash between Slack posting and NestFleet recording it
 * makes the retry post again.
 */
import { type HttpClient, HttpClientRequest } from "@effect/platform"
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
    const request = HttpClientRequest.post(`${(config.apiUrl ?? defaultApiUrl).replace(/\/+$/, "")}/chat.postMessage`).pipe(
      HttpClientRequest.setHeaders({ authorization: `Bearer ${Redacted.value(token)}` }),
      HttpClientRequest.bodyText(
        JSON.stringify({ channel: thread.channel, thread_ts: thread.threadTs, text: outgoing.reply.body, unfurl_links: false }),
        "application/json; charset=utf-8"
      )
    )
    const post = execute(http, request, "Slack")
    const first = yield* post
    const response = first.status === 429 ? yield* Effect.zipRight(Effect.sleep(yield* retryAfter(first.headers)), post) : first
    const failure = failureOfStatus(response.status, "Slack")
    if (failure !== null) return yield* failure
    const answer = yield* response.json.pipe(
      Effect.flatMap(Schema.decodeUnknown(Answer)),
      Effect.mapError(() => new DeliveryFailed({ reason: "Slack's answer is not its Web API's", permanent: false }))
    )
    if (!answer.ok) {
      const error = answer.error ?? "unknown_error"
      return yield* new DeliveryFailed({ reason: `Slack refused the message (${error})`, permanent: lasting.has(error) })
    }
    return { externalId: answer.ts === undefined ? null : `slack:${answer.channel ?? thread.channel}:${answer.ts}`, echoKeys: [] }
  })
