/**
 * The deliver_reply step: one approved draft version's reply, sent through the case's
 * channel (ReplyTargets) and recorded on its outbound message.
 *
 * - Sent: the message is `sent` (with the target's id for it), the version `sent`, the case
 *   `replied`, all in one transaction.
 * - A failure that may heal is kept on the message (still `sending`) and the attempt fails, so
 *   the job is retried; on its last attempt it fails for good.
 * - A failure that will not heal (the target refused: 401, 404…; the channel lacks what it
 *   needs) fails the reply at once: the message is `failed` with the reason and the case goes
 *   to a person.
 *
 * A reply already `sent` or `failed` is left as it is: a retried job, or a second one for the
 * same version, sends nothing. What cannot be ruled out is a crash after the target took the
 * reply and before it was recorded; the retry then sends it again under the same key, which a
 * target taking idempotency keys (Standard Webhooks' `webhook-id`) shows once.
 */
import { type CaseRow, CasesRepo, type MessageRow } from "@nestfleet/db/CasesRepo"
import { ChannelsRepo } from "@nestfleet/db/ChannelsRepo"
import { DraftsRepo } from "@nestfleet/db/DraftsRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import type { CaseStatus } from "@nestfleet/domain/Cases"
import type { ChannelType } from "@nestfleet/domain/Channels"
import type { DraftId } from "@nestfleet/domain/Drafts"
import { Effect, Either, Option } from "effect"
import { DeliveryFailed } from "./ReplyTarget.js"
import { ReplyTargets } from "./ReplyTargets.js"
import { SecretCipher } from "./SecretCipher.js"
import { orDieUnexpected } from "./Unexpected.js"

/** Statuses a sent reply moves the case to `replied` from. */
const answerable: ReadonlySet<CaseStatus> = new Set(["new", "triaged", "needs_attention", "awaiting_approval"])

/** The key that names a version's reply at its target (Standard Webhooks' `webhook-id`, a Message-ID…). */
export const replyKey = (draftId: string, version: number) => `nestfleet-reply-${draftId}-v${version}`

/** Which attempt this is, of how many the job gets. */
export interface Attempt {
  readonly attempt: number
  readonly maxAttempts: number
}

export class ReplyDelivery extends Effect.Service<ReplyDelivery>()("@nestfleet/core/ReplyDelivery", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const cases = yield* CasesRepo
    const drafts = yield* DraftsRepo
    const channels = yield* ChannelsRepo
    const cipher = yield* SecretCipher
    const targets = yield* ReplyTargets

    /** The reply failed for good: recorded with its reason, and the case put before a person. Under the case's lock. */
    const failReply = (options: {
      readonly current: CaseRow
      readonly reply: MessageRow
      readonly channel: ChannelType
      readonly reason: string
    }) =>
      Effect.gen(function*() {
        const { channel, current, reason, reply } = options
        yield* cases.recordDelivery({ id: reply.id, state: "failed", error: reason, externalId: null })
        const moved = current.status !== "needs_attention" && current.status !== "closed"
        if (moved) yield* cases.update({ id: current.id, status: "needs_attention" })
        yield* cases.insertEvent({
          caseId: current.id,
          kind: "reply_failed",
          actorUserId: null,
          data: {
            draftId: reply.draftId,
            version: reply.draftVersion,
            messageId: reply.id,
            channel,
            reason,
            ...(moved ? { status: { from: current.status, to: "needs_attention" } } : {})
          }
        })
      })

    const deliver = Effect.fn("ReplyDelivery.deliver")(function*(draftId: DraftId, version: number, attempt: Attempt) {
      yield* Effect.annotateCurrentSpan({ "draft.id": draftId, "draft.version": version, "job.attempt": attempt.attempt })
      const found = yield* cases.outboundOf({ draftId, draftVersion: version })
      if (Option.isNone(found)) return yield* Effect.logWarning("ReplyDelivery: the version has no reply to send")
      const reply = found.value
      if (reply.deliveryState !== "sending") {
        return yield* Effect.logInfo(`ReplyDelivery: the reply is already ${reply.deliveryState}`)
      }
      const row = yield* Effect.flatten(cases.findById(reply.caseId))
      const channel = yield* Effect.flatten(channels.findById(row.channelId))
      const versionRow = yield* Effect.flatten(drafts.findVersion({ draftId, version }))
      const answers = versionRow.answersMessageId === null ? Option.none() : yield* cases.findMessage(versionRow.answersMessageId)
      const unreadable = () => new DeliveryFailed({ reason: "The channel's secrets cannot be read; set them again", permanent: true })
      const sent = yield* Effect.all([
        cipher.decrypt(channel.secret),
        channel.replySecret === null ? Effect.succeed(null) : cipher.decrypt(channel.replySecret)
      ]).pipe(
        Effect.mapError(unreadable),
        Effect.flatMap(([secret, replySecret]) =>
          targets.send({
            channel,
            secret,
            replySecret,
            case: row,
            reply,
            version: versionRow,
            answers: Option.getOrNull(answers),
            key: replyKey(draftId, version),
            retried: attempt.attempt > 1
          })
        ),
        Effect.either
      )
      const givingUp = Either.isLeft(sent) && (sent.left.permanent || attempt.attempt >= attempt.maxAttempts)
      // Before the case's lock, in a statement of its own: intake claims the same keys first and
      // then locks the case, so claiming them under the lock could deadlock with the echo.
      if (Either.isRight(sent)) yield* cases.claimEchoes(channel.id, sent.right.echoKeys)

      yield* transactions.withTransaction(Effect.gen(function*() {
        const current = yield* Effect.flatten(cases.lock(row.id))
        // Another run of this version decided while this one was sending.
        const now = yield* Effect.flatten(cases.outboundOf({ draftId, draftVersion: version }))
        if (now.deliveryState !== "sending") return
        if (Either.isRight(sent)) {
          yield* cases.recordDelivery({ id: reply.id, state: "sent", error: null, externalId: sent.right.externalId })
          yield* drafts.markSent(draftId, version)
          const moved = answerable.has(current.status)
          if (moved) yield* cases.update({ id: row.id, status: "replied" })
          yield* cases.insertEvent({
            caseId: row.id,
            kind: "reply_sent",
            actorUserId: null,
            data: {
              draftId,
              version,
              messageId: reply.id,
              channel: channel.type,
              attempt: attempt.attempt,
              ...(moved ? { status: { from: current.status, to: "replied" } } : {})
            }
          })
          return
        }
        const reason = givingUp && !sent.left.permanent
          ? `${sent.left.reason} (gave up after ${attempt.attempt} attempts)`
          : sent.left.reason
        if (givingUp) yield* failReply({ current, reply: now, channel: channel.type, reason })
        else yield* cases.recordDelivery({ id: reply.id, state: "sending", error: reason, externalId: null })
      }))
      // A failure that may heal fails this attempt: the job is retried.
      if (Either.isLeft(sent) && !givingUp) return yield* sent.left
    }, orDieUnexpected)

    /**
     * The version's delivery job failed for good, however its last attempt ended: a reply still
     * `sending` (its last attempt crashed, expired or died with its worker) fails, with the last
     * error seen, and the case goes to a person. A reply already `sent` or `failed` is left alone.
     */
    const undelivered = Effect.fn("ReplyDelivery.undelivered")(function*(draftId: DraftId, version: number) {
      yield* Effect.annotateCurrentSpan({ "draft.id": draftId, "draft.version": version })
      const found = yield* cases.outboundOf({ draftId, draftVersion: version })
      if (Option.isNone(found) || found.value.deliveryState !== "sending") return
      const row = yield* Effect.flatten(cases.findById(found.value.caseId))
      const channel = yield* Effect.flatten(channels.findById(row.channelId))
      const failed = yield* transactions.withTransaction(Effect.gen(function*() {
        const current = yield* Effect.flatten(cases.lock(row.id))
        const reply = yield* Effect.flatten(cases.outboundOf({ draftId, draftVersion: version }))
        if (reply.deliveryState !== "sending") return false
        const reason = reply.deliveryError === null
          ? "The delivery never finished: its attempts crashed or were lost"
          : `${reply.deliveryError} (gave up: the last attempt did not finish)`
        yield* failReply({ current, reply, channel: channel.type, reason })
        return true
      }))
      if (failed) yield* Effect.logWarning("ReplyDelivery: gave up on a reply whose delivery never finished")
    }, orDieUnexpected)

    return { deliver, undelivered } as const
  }),
  dependencies: [Transactions.Default, CasesRepo.Default, DraftsRepo.Default, ChannelsRepo.Default, ReplyTargets.Default]
}) {}
