/**
 * Replies on a generic webhook channel: a POST to the channel's `config.replyUrl`, signed
 * with Standard Webhooks by the channel's own signing secret (the one its deliveries are
 * signed with), so the receiver checks it as NestFleet checks what it receives. `webhook-id`
 * names the draft version: the same reply retried carries the same id, which the receiver
 * uses to take it once.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Citation } from "@nestfleet/domain/Drafts"
import { Clock, Effect, Redacted, Schema } from "effect"
import { Webhook } from "standardwebhooks"
import { threadPrefix } from "./InboundMessages.js"
import { DeliveryFailed, execute, failureOfStatus, type Outgoing, type Receipt } from "./ReplyTarget.js"

/** What the receiver gets. */
export const ReplyPayload = Schema.Struct({
  caseId: Schema.String,
  /** The id the customer's message came with (what this replies to), when it had one. */
  externalId: Schema.NullOr(Schema.String),
  /** The conversation's threadId, when the customer's messages came with one. */
  threadId: Schema.NullOr(Schema.String),
  draftId: Schema.String,
  version: Schema.Int,
  body: Schema.String,
  citations: Schema.Array(Citation)
})

const ReplyUrl = Schema.Struct({ replyUrl: Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/)) })

/** The channel's reply URL, or why there is none to use. */
export const replyUrlOf = (config: unknown) =>
  Schema.decodeUnknown(ReplyUrl)(config).pipe(
    Effect.map(({ replyUrl }) => replyUrl),
    Effect.mapError(() =>
      new DeliveryFailed({
        reason: "The webhook channel has no replyUrl (an http or https URL) in its config",
        permanent: true
      })
    )
  )

export const send = (http: HttpClient.HttpClient, outgoing: Outgoing): Effect.Effect<Receipt, DeliveryFailed> =>
  Effect.gen(function*() {
    const url = yield* replyUrlOf(outgoing.channel.config)
    const body = JSON.stringify(ReplyPayload.make({
      caseId: outgoing.case.id,
      externalId: outgoing.answers?.externalId ?? null,
      threadId: outgoing.case.threadKey.startsWith(threadPrefix) ? outgoing.case.threadKey.slice(threadPrefix.length) : null,
      draftId: outgoing.version.draftId,
      version: outgoing.version.version,
      body: outgoing.reply.body,
      citations: outgoing.version.citations
    }))
    const now = new Date(yield* Clock.currentTimeMillis)
    const signature = new Webhook(Redacted.value(outgoing.secret)).sign(outgoing.key, now, body)
    const request = HttpClientRequest.post(url).pipe(
      HttpClientRequest.setHeaders({
        "webhook-id": outgoing.key,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": signature
      }),
      HttpClientRequest.bodyText(body, "application/json")
    )
    const response = yield* execute(http, request, "The reply URL")
    const failure = failureOfStatus(response.status, "The reply URL")
    if (failure !== null) return yield* failure
    return { externalId: null, echoKeys: [] }
  })
