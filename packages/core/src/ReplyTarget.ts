/**
 * What sending a reply through one channel type is given and answers: a receipt, or
 * `DeliveryFailed` saying whether the failure may heal (retried) or will not (a 401 or 404
 * from the target, a channel without what it needs: the reply fails and a person takes the
 * case).
 */
import type { CaseRow, MessageRow } from "@nestfleet/db/CasesRepo"
import type { ChannelRow } from "@nestfleet/db/ChannelsRepo"
import type { DraftVersionRow } from "@nestfleet/db/DraftsRepo"
import { Data, type Redacted } from "effect"

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
  readonly case: CaseRow
  /** The reply, as stored in the case's thread. */
  readonly reply: MessageRow
  readonly version: DraftVersionRow
  /** The customer's message it answers, when known. */
  readonly answers: MessageRow | null
  /** Names this reply for the target across retries (its idempotency key where the target takes one). */
  readonly key: string
}

/** The target's own id for the reply, when it gives one. */
export interface Receipt {
  readonly externalId: string | null
}

/** How an HTTP answer is read by the targets that speak HTTP. */
export const failureOfStatus = (status: number, what: string): DeliveryFailed | null =>
  status >= 200 && status < 300 ? null : new DeliveryFailed({
    reason: `${what} answered HTTP ${status}`,
    // Timeouts, rate limits and server errors may heal; any other refusal will not.
    permanent: !(status === 408 || status === 425 || status === 429 || status >= 500)
  })

