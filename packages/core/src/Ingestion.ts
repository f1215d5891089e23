/**
 * A channel's delivery, from raw bytes to a stored message: find the enabled channel,
 * check the signature on the raw body, read the payload, and then — in one transaction —
 * record the message (the delivery claimed, the case found or opened, the message and its
 * timeline event stored) and enqueue the triage of a case it opened. A redelivery finds
 * what the first delivery made.
 *
 * To run it over test doubles, as `packages/core/test/Ingestion.test.ts` does for the
 * reopening rules: `Ingestion.DefaultWithoutDependencies` over `makeTestLayer(CasesRepo)({ … })`,
 * `makeTestLayer(Channels)({ forDelivery })`, `makeTestLayer(JobQueue)({ send })` (from
 * `@nestfleet/domain/testing/TestLayer`) and `Transactions.Passthrough`; deliveries are
 * signed with the channel's secret, as the sender would.
 */
import { CasesRepo } from "@nestfleet/db/CasesRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { type CaseId, type CaseStatus, MessageId } from "@nestfleet/domain/Cases"
import { ChannelId } from "@nestfleet/domain/Channels"
import {
  SlackChallenge,
  WebhookAccepted,
  WebhookAcknowledged,
  WebhookChannelNotFound,
  WebhookDuplicate,
  WebhookPayloadInvalid,
  WebhookSignatureInvalid
} from "@nestfleet/domain/WebhooksApi"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { TriageJob } from "@nestfleet/jobs/PipelineJobs"
import { Clock, Effect, Either, Option, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { Channels } from "./Channels.js"
import * as InboundMessages from "./InboundMessages.js"
import { orDieUnexpected } from "./Unexpected.js"
import * as WebhookSignatures from "./WebhookSignatures.js"

const isChannelId = Schema.is(ChannelId)

/**
 * A customer writing again on a case that was resolved, answered or waiting for a reply's
 * approval needs a person to look again (a pending draft may no longer fit). A closed case
 * stays closed; the message is on it for whoever reads it.
 */
const reopenedByMessage: ReadonlySet<CaseStatus> = new Set(["resolved", "replied", "awaiting_approval"])

/** The channel reopening the conversation (a GitHub issue reopened) reopens a closed case too. */
const reopenedByChannel: ReadonlySet<CaseStatus> = new Set([...reopenedByMessage, "closed"])

/** The same answer for an unknown and a disabled channel, so ids cannot be probed. */
const notFound = new WebhookChannelNotFound({ message: "No enabled channel has this id" })

/** The answer to a delivery seen before that stored no message. */
const seenBefore = new WebhookAcknowledged({ ok: true, ignored: "seen before" })

type ChannelRow = Option.Option.Value<Effect.Effect.Success<ReturnType<Channels["forDelivery"]>>>["channel"]

export class Ingestion extends Effect.Service<Ingestion>()("@nestfleet/core/Ingestion", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const channels = yield* Channels
    const repo = yield* CasesRepo
    const queue = yield* JobQueue

    /** Back to needs_attention, in the timeline: `data` says what moved it. */
    const reopen = (caseId: CaseId, from: CaseStatus, data: Readonly<Record<string, unknown>>) =>
      Effect.zipRight(
        repo.update({ id: caseId, status: "needs_attention" }),
        repo.insertEvent({ caseId, kind: "reopened", actorUserId: null, data: { from, to: "needs_attention", ...data } })
      )

    const record = (channel: ChannelRow, message: InboundMessages.InboundMessage) =>
      transactions.withTransaction(Effect.gen(function*() {
        const messageId = MessageId.make(randomUUID())
        const recorded = yield* repo.recordInbound({
          productId: channel.productId,
          channelId: channel.id,
          deliveryKeys: message.deliveryKeys,
          threadKey: message.threadKey,
          repliesTo: message.repliesTo,
          subject: message.subject,
          customer: message.customer,
          messageId,
          externalId: message.externalId,
          body: message.body,
          html: message.html ?? null,
          metadata: message.metadata,
          eventData: { messageId, channelId: channel.id, channelType: channel.type }
        })
        if (recorded.opened) {
          yield* queue.send(TriageJob, { caseId: recorded.caseId, reason: "new_case" as const }).pipe(Effect.orDie)
        } else {
          if (reopenedByMessage.has(recorded.status)) yield* reopen(recorded.caseId, recorded.status, {})
          // The customer said more: triage and matching read the case again. Messages arriving
          // while one such triage waits are read by it (one waiting job per case).
          yield* queue.send(TriageJob, { caseId: recorded.caseId, reason: "follow_up" as const }, {
            singletonKey: `follow_up:${recorded.caseId}`
          }).pipe(Effect.orDie)
        }
        return new WebhookAccepted({ caseId: recorded.caseId, messageId, duplicate: false })
      }))

    /**
     * A reopened conversation on the channel reopens its case, once per reopening: a
     * redelivery, or the same reopening replayed under another delivery id, is seen before.
     */
    const reopenConversation = (channel: ChannelRow, reopened: InboundMessages.InboundReopen) =>
      transactions.withTransaction(Effect.gen(function*() {
        yield* repo.claimDelivery(channel.id, reopened.deliveryKeys)
        const row = yield* repo.findByThread({ channelId: channel.id, threadKey: reopened.threadKey })
        if (Option.isNone(row)) return new WebhookAcknowledged({ ok: true, ignored: "no case for this conversation" })
        const { id, status } = row.value
        if (!reopenedByChannel.has(status)) return new WebhookAcknowledged({ ok: true, ignored: `the case is ${status}` })
        yield* reopen(id, status, { by: reopened.by, channelType: channel.type })
        return new WebhookAcknowledged({ ok: true })
      })).pipe(Effect.catchTag("DeliverySeenBefore", () => Effect.succeed(seenBefore)))

    /**
     * The answer to a message some key of which was claimed before: the message stored then.
     * A key claimed by a delivery that stored no message (a GitHub delivery id that reopened
     * an issue, sent again with another event) was still seen before: acknowledged, as the
     * redelivery of that one would be.
     */
    const duplicateOf = (channel: ChannelRow, message: InboundMessages.InboundMessage) =>
      Effect.map(
        repo.findDelivery({ channelId: channel.id, keys: message.deliveryKeys }),
        Option.match({
          onNone: () => seenBefore,
          onSome: ({ caseId, messageId }) => new WebhookDuplicate({ caseId, messageId, duplicate: true })
        })
      )

    const deliver = Effect.fn("Ingestion.deliver")(
      function*(channelId: string, headers: WebhookSignatures.Headers, body: Uint8Array) {
        if (!isChannelId(channelId)) return yield* notFound
        const found = yield* channels.forDelivery(channelId)
        if (Option.isNone(found)) return yield* notFound
        const { channel, secret } = found.value
        yield* Effect.annotateCurrentSpan({ "channel.id": channel.id, "channel.type": channel.type })

        const now = new Date(yield* Clock.currentTimeMillis)
        const verdict = WebhookSignatures.verify(channel.type, secret, headers, body, now)
        if (Either.isLeft(verdict)) return yield* new WebhookSignatureInvalid({ message: verdict.left })

        const inbound = InboundMessages.read(channel.type, headers, body)
        if (Either.isLeft(inbound)) return yield* new WebhookPayloadInvalid({ message: inbound.left })
        const message = inbound.right
        switch (message._tag) {
          case "Challenge":
            return new SlackChallenge({ challenge: message.challenge })
          case "Ignored":
            return new WebhookAcknowledged({ ok: true, ignored: message.reason })
          case "Reopen":
            return yield* reopenConversation(channel, message)
          case "Message":
            // Rolled back, the transaction left nothing of this copy; the first one answers.
            return yield* record(channel, message).pipe(
              Effect.catchTag("DeliverySeenBefore", () => duplicateOf(channel, message))
            )
        }
      },
      orDieUnexpected
    )

    return { deliver } as const
  }),
  dependencies: [Transactions.Default, CasesRepo.Default, Channels.Default]
}) {}
