/**
 * A channel's delivery, from raw bytes to a stored message: find the enabled channel,
 * check the signature on the raw body, read the payload, and then — in one transaction —
 * claim the delivery, find or open the case, store the message and its timeline event,
 * and enqueue the case's triage. A redelivery finds what the first delivery made.
 */
import { Transactions } from "@nestfleet/db/Transactions"
import { CasesRepo, type CaseRow } from "@nestfleet/db/CasesRepo"
import type { CaseStatus } from "@nestfleet/domain/Cases"
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
import { Data, Effect, Either, Option, Schema } from "effect"
import { Channels } from "./Channels.js"
import * as InboundMessages from "./InboundMessages.js"
import { orDieUnexpected } from "./Unexpected.js"
import * as WebhookSignatures from "./WebhookSignatures.js"

/** Some key of the delivery was claimed before: the transaction is rolled back and the first one answered. */
class AlreadyDelivered extends Data.TaggedError("AlreadyDelivered") {}

const isChannelId = Schema.is(ChannelId)

const reopenedBy: ReadonlySet<CaseStatus> = new Set(["resolved", "replied", "awaiting_approval"])

/** The same answer for an unknown and a disabled channel, so ids cannot be probed. */
const notFound = new WebhookChannelNotFound({ message: "No enabled channel has this id" })

type ChannelRow = Option.Option.Value<Effect.Effect.Success<ReturnType<Channels["forDelivery"]>>>["channel"]

export class Ingestion extends Effect.Service<Ingestion>()("@nestfleet/core/Ingestion", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const channels = yield* Channels
    const cases = yield* CasesRepo
    const queue = yield* JobQueue

    /** The case the message belongs to, and whether it was opened just now. */
    const caseFor = (channel: ChannelRow, message: InboundMessages.InboundMessage) =>
      Effect.gen(function*() {
        if (message.repliesTo.length > 0) {
          const answered = yield* cases.findByMessages({ channelId: channel.id, externalIds: message.repliesTo })
          if (Option.isSome(answered)) return { row: answered.value, opened: false }
        }
        const existing = yield* cases.findByThread({ channelId: channel.id, threadKey: message.threadKey })
        if (Option.isSome(existing)) return { row: existing.value, opened: false }
        const opened = yield* cases.insertCase({
          productId: channel.productId,
          channelId: channel.id,
          threadKey: message.threadKey,
          subject: message.subject,
          customer: message.customer
        })
        if (Option.isSome(opened)) return { row: opened.value, opened: true }
        // Another delivery opened the thread's case meanwhile.
        const raced = yield* Effect.flatten(cases.findByThread({ channelId: channel.id, threadKey: message.threadKey }))
        return { row: raced, opened: false }
      })

    const record = (channel: ChannelRow, message: InboundMessages.InboundMessage) =>
      transactions.withTransaction(Effect.gen(function*() {
        // A message that answers nothing most likely starts a thread: try that, claim and all, in one statement.
        if (message.repliesTo.length === 0) {
          const started = yield* cases.openThread({
            productId: channel.productId,
            channelId: channel.id,
            channelType: channel.type,
            threadKey: message.threadKey,
            subject: message.subject,
            customer: message.customer,
            deliveryKeys: message.deliveryKeys,
            externalId: message.externalId,
            body: message.body,
            html: message.html ?? null,
            metadata: message.metadata
          })
          if (Option.isSome(started)) {
            const { caseId, claimed, messageId } = started.value
            if (claimed < message.deliveryKeys.length) return yield* new AlreadyDelivered()
            yield* queue.send(TriageJob, { caseId, reason: "new_case" as const }).pipe(Effect.orDie)
            return new WebhookAccepted({ caseId, messageId, duplicate: false })
          }
        }
        const claimed = yield* cases.claimDelivery(channel.id, message.deliveryKeys)
        if (claimed < message.deliveryKeys.length) return yield* new AlreadyDelivered()
        const { opened, row } = yield* caseFor(channel, message)
        const stored = yield* cases.insertMessage({
          caseId: row.id,
          kind: "inbound",
          externalId: message.externalId,
          author: message.customer,
          authorUserId: null,
          body: message.body,
          html: message.html ?? null,
          metadata: message.metadata
        })
        yield* cases.insertEvent({
          caseId: row.id,
          kind: opened ? "case_opened" : "message_received",
          actorUserId: null,
          data: { messageId: stored.id, channelId: channel.id, channelType: channel.type }
        })
        if (!opened) yield* reopenIfAnswered(row)
        yield* cases.completeDelivery({ channelId: channel.id, keys: message.deliveryKeys, caseId: row.id, messageId: stored.id })
        if (opened) yield* queue.send(TriageJob, { caseId: row.id, reason: "new_case" as const }).pipe(Effect.orDie)
        return new WebhookAccepted({ caseId: row.id, messageId: stored.id, duplicate: false })
      }))

    /**
     * A customer writing again on a case that was resolved, answered or waiting for a reply's
     * approval needs a person to look again (a pending draft may no longer fit). A closed case
     * stays closed; the message is on it for whoever reads it.
     */
    const reopenIfAnswered = (row: CaseRow) =>
      !reopenedBy.has(row.status) ? Effect.void : Effect.zipRight(
        cases.update({ id: row.id, status: "needs_attention" }),
        cases.insertEvent({
          caseId: row.id,
          kind: "reopened",
          actorUserId: null,
          data: { from: row.status, to: "needs_attention" }
        })
      )

    /** The answer to a delivery seen before that stored no message. */
    const seenBefore = new WebhookAcknowledged({ ok: true, ignored: "seen before" })

    /** A reopened conversation on the channel reopens its case, once per delivery. */
    const reopen = (channel: ChannelRow, reopened: InboundMessages.InboundReopen) =>
      transactions.withTransaction(Effect.gen(function*() {
        const claimed = yield* cases.claimDelivery(channel.id, reopened.deliveryKeys)
        if (claimed < reopened.deliveryKeys.length) return seenBefore
        const row = yield* cases.findByThread({ channelId: channel.id, threadKey: reopened.threadKey })
        if (Option.isNone(row)) return new WebhookAcknowledged({ ok: true, ignored: "no case for this conversation" })
        if (!reopenedBy.has(row.value.status) && row.value.status !== "closed") {
          return new WebhookAcknowledged({ ok: true, ignored: `the case is ${row.value.status}` })
        }
        yield* cases.update({ id: row.value.id, status: "needs_attention" })
        yield* cases.insertEvent({
          caseId: row.value.id,
          kind: "reopened",
          actorUserId: null,
          data: { from: row.value.status, to: "needs_attention", by: reopened.by, channelType: channel.type }
        })
        return new WebhookAcknowledged({ ok: true })
      }))

    /**
     * The answer to a message some key of which was claimed before: the message stored then.
     * A key claimed by a delivery that stored no message (a GitHub delivery id that reopened
     * an issue, sent again with another event) was still seen before: acknowledged, as the
     * redelivery of that one would be.
     */
    const duplicateOf = (channel: ChannelRow, message: InboundMessages.InboundMessage) =>
      Effect.map(
        cases.findDelivery({ channelId: channel.id, keys: message.deliveryKeys }),
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

        const verdict = WebhookSignatures.verify(channel.type, secret, headers, body)
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
            return yield* reopen(channel, message)
          case "Message":
            return yield* record(channel, message).pipe(
              Effect.catchTag("AlreadyDelivered", () => duplicateOf(channel, message))
            )
        }
      },
      orDieUnexpected
    )

    return { deliver } as const
  }),
  dependencies: [Transactions.Default, CasesRepo.Default, Channels.Default]
}) {}
