/**
 * What sending a reply through one channel type is given and answers: a receipt, or
 * `DeliveryFailed` saying whether the failure may heal (retried) or will not (a 401 or 404
 * from the target, a channel without what it needs: the reply fails and a person takes the
 * case).
 */
import type { CaseRow, MessageRow } from "@nestfleet/db/CasesRepo"
import type { ChannelRow } from "@nestfleet/db/ChannelsRepo"
import type { DraftVersionRow } from "@nestfleet/db/DraftsRepo"
import { type HttpClient, type HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Data, Duration, Effect, type Redacted } from "effect"

export class DeliveryFailed extends Data.TaggedError("DeliveryFailed")<{
  readonly reason: string
  /** True when retrying cannot help. */
  readonly permanent: boolean
}> {}

/** A reply on its way: what a target needs to send it. */
export interface Outgoing {
  readonly channel: ChannelRow
  /** The channel's signing secret, decrypted. */
  readonly secret: Redacted.Redacted<string>
  /** What replies are sent with (a token, a password), decrypted, if the channel has one. */
  readonly replySecret: Redacted.Redacted<string> | null
  readonly case: CaseRow
  /** The reply, as stored in the case's thread. */
  readonly reply: MessageRow
  readonly version: DraftVersionRow
  /** The customer's message it answers, when known. */
  readonly answers: MessageRow | null
  /** Names this reply for the target across retries (its idempotency key where the target takes one). */
  readonly key: string
  /**
   * An earlier attempt may have reached the target: a target that takes no idempotency key is
   * searched for the reply (by `key`) before it is sent again.
   */
  readonly retried: boolean
}

/** The target's own id for the reply, when it gives one. */
export interface Receipt {
  readonly externalId: string | null
  /**
   * Delivery keys the target's echo of the reply will carry (a GitHub comment's webhook):
   * claimed on the channel, so the echo is taken for what it is, not for the customer writing.
   */
  readonly echoKeys: ReadonlyArray<string>
}

/** How long a target has to answer; past it the attempt is retried. */
export const timeout = Duration.seconds(10)

/** How an HTTP answer is read by the targets that speak HTTP. */
export const failureOfStatus = (status: number, what: string): DeliveryFailed | null =>
  status >= 200 && status < 300 ? null : new DeliveryFailed({
    reason: `${what} answered HTTP ${status}`,
    // Timeouts, rate limits and server errors may heal; any other refusal will not.
    permanent: !(status === 408 || status === 425 || status === 429 || status >= 500)
  })


/**
 * Runs an HTTP request to a target: its response, or a failure that may heal when it could not
 * be sent, timed out or its answer could not be read.
 */
export const execute = (
  http: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  what: string
): Effect.Effect<HttpClientResponse.HttpClientResponse, DeliveryFailed> =>
  http.execute(request).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new DeliveryFailed({ reason: `${what} did not answer within ${Duration.format(timeout)}`, permanent: false })
    }),
    Effect.catchTag("RequestError", (error) =>
      Effect.fail(new DeliveryFailed({ reason: `${what} could not be reached (${error.reason})`, permanent: false }))),
    Effect.catchTag("ResponseError", (error) =>
      Effect.fail(new DeliveryFailed({ reason: `${what}'s answer could not be read (${error.reason})`, permanent: false })))
  )

/** The channel's reply secret, or a failure saying what the channel lacks. */
export const requireReplySecret = (outgoing: Outgoing, what: string) =>
  outgoing.replySecret === null
    ? Effect.fail(new DeliveryFailed({ reason: `The ${outgoing.channel.type} channel has no ${what} (its replySecret)`, permanent: true }))
    : Effect.succeed(outgoing.replySecret)
