/**
 * When a case is reopened, as rules: Ingestion over test doubles — a GitHub channel, a
 * `CasesRepo` double that says what recording a message found, a `JobQueue` double — fed
 * the real GitHub payloads, signed. (The same on the real server and database, with
 * concurrency and rollback, is in apps/api/test/Intake.test.ts and IntakeFuzz.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { ChannelRow } from "@nestfleet/db/ChannelsRepo"
import { CaseRow, CasesRepo, DeliverySeenBefore, type RecordedInbound } from "@nestfleet/db/CasesRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { CaseId, CaseStatus } from "@nestfleet/domain/Cases"
import { ChannelId } from "@nestfleet/domain/Channels"
import { ProductId } from "@nestfleet/domain/Products"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { WebhookAccepted, WebhookAcknowledged } from "@nestfleet/domain/WebhooksApi"
import { JobId, JobQueue } from "@nestfleet/jobs/JobQueue"
import { Effect, Layer, Option, Redacted } from "effect"
import { createHmac, randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Channels } from "../src/Channels.js"
import { Ingestion } from "../src/Ingestion.js"

const fixture = (name: string) =>
  Fs.readFileSync(Path.resolve(import.meta.dirname, "../../../test/fixtures/github", name), "utf8")

const secret = "github-webhook-secret"
const channel = new ChannelRow({
  id: ChannelId.make("7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b"),
  productId: ProductId.make("5a0f3c1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b"),
  type: "github",
  name: "Issues",
  config: {},
  secret: "stored form, not read here",
  replySecret: null,
  enabled: true,
  createdAt: new Date(0),
  updatedAt: new Date(0)
})
const caseId = CaseId.make("6f1c2a9e-8d4b-4c3a-9f2e-1b7d5e3a0c44")

const caseRow = (status: CaseStatus) =>
  new CaseRow({
    id: caseId,
    number: 7,
    productId: channel.productId,
    channelId: channel.id,
    threadKey: "github-issue:Codertocat/Hello-World#1",
    subject: "Spelling error in the README file",
    status,
    type: null,
    severity: null,
    assigneeId: null,
    customer: {},
    createdAt: new Date(0),
    updatedAt: new Date(0),
    createdAtKey: "1970-01-01T00:00:00.000000Z"
  })

/** A GitHub delivery of `event` with `body`, signed as GitHub signs it, under a delivery id of its own. */
const delivery = (event: string, body: string) => ({
  headers: {
    "x-github-event": event,
    "x-github-delivery": randomUUID(),
    "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`
  },
  body: new TextEncoder().encode(body)
})

/**
 * Delivers `sent` to Ingestion over doubles: the repository methods `repo` gives, plus
 * `update` and `insertEvent`, which record what was written. Answers the answer, the
 * statuses the case was set to, the events and the jobs sent.
 */
const deliver = (repo: Partial<CasesRepo>, sent: ReturnType<typeof delivery>) => {
  const statuses: Array<CaseStatus | undefined> = []
  const events: Array<{ readonly kind: string; readonly data: unknown }> = []
  const jobs: Array<unknown> = []
  const layer = Ingestion.DefaultWithoutDependencies.pipe(Layer.provide([
    makeTestLayer(CasesRepo)({
      update: ({ status }) => Effect.sync(() => void statuses.push(status)).pipe(Effect.as(Option.none())),
      insertEvent: ({ data, kind }) => Effect.sync(() => void events.push({ kind, data })),
      ...repo
    }),
    makeTestLayer(Channels)({
      forDelivery: () => Effect.succeed(Option.some({ channel, secret: Redacted.make(secret) }))
    }),
    makeTestLayer(JobQueue)({
      send: (_job, payload, options) =>
        Effect.sync(() => (
          jobs.push(options?.singletonKey === undefined ? payload : { payload, singletonKey: options.singletonKey }),
            Option.some(JobId.make("job-1"))
        ))
    }),
    Transactions.Passthrough
  ]))
  return Effect.flatMap(Ingestion, (ingestion) => ingestion.deliver(channel.id, sent.headers, sent.body)).pipe(
    Effect.map((answer) => ({ answer, statuses, events, jobs })),
    Effect.provide(layer)
  )
}

/** What recording a comment found: the case it joined, in `status`; or a case opened just now. */
const recorded = (found: RecordedInbound): Partial<CasesRepo> => ({ recordInbound: () => Effect.succeed(found) })

describe("a customer writing again", () => {
  it.effect("moves a resolved, answered or approval-waiting case back to needs_attention; the others stay as they are", () =>
    Effect.gen(function*() {
      const reopenedFrom: Array<CaseStatus> = []
      for (const status of CaseStatus.literals) {
        const { answer, events, statuses } = yield* deliver(
          recorded({ caseId, opened: false, status }),
          delivery("issue_comment", fixture("issue_comment.created.json"))
        )
        expect(answer).toBeInstanceOf(WebhookAccepted)
        if (statuses.length === 0) continue
        expect(statuses).toEqual(["needs_attention"])
        expect(events).toEqual([{ kind: "reopened", data: { from: status, to: "needs_attention" } }])
        reopenedFrom.push(status)
      }
      // A closed case stays closed: the message is on it for whoever reads it.
      expect(reopenedFrom.sort()).toEqual(["awaiting_approval", "replied", "resolved"])
    }))

  it.effect("triages a case the message opened; a follow-up triages it again, one waiting triage per case", () =>
    Effect.gen(function*() {
      const opening = delivery("issues", fixture("issues.opened.json"))
      const opened = yield* deliver(recorded({ caseId, opened: true, status: "new" }), opening)
      expect(opened.jobs).toEqual([{ caseId, reason: "new_case" }])
      const followUp = delivery("issue_comment", fixture("issue_comment.created.json"))
      expect((yield* deliver(recorded({ caseId, opened: false, status: "triaged" }), followUp)).jobs)
        .toEqual([{ payload: { caseId, reason: "follow_up" }, singletonKey: `follow_up:${caseId}` }])
    }))

  it.effect("names the message in the timeline event it writes, with the channel", () =>
    Effect.gen(function*() {
      let eventData: unknown
      const { answer } = yield* deliver({
        recordInbound: (record) => Effect.sync(() => (eventData = record.eventData, { caseId, opened: true, status: "new" }))
      }, delivery("issues", fixture("issues.opened.json")))
      expect(eventData).toEqual({ messageId: (answer as WebhookAccepted).messageId, channelId: channel.id, channelType: "github" })
    }))
})

describe("GitHub reopening an issue", () => {
  const reopening = () => delivery("issues", fixture("issues.reopened.json"))
  const onCase = (status: CaseStatus): Partial<CasesRepo> => ({
    claimDelivery: () => Effect.void,
    findByThread: () => Effect.succeed(Option.some(caseRow(status)))
  })

  it.effect("reopens a resolved, answered, approval-waiting or closed case; a case still being worked stays as it is", () =>
    Effect.gen(function*() {
      const reopenedFrom: Array<CaseStatus> = []
      for (const status of CaseStatus.literals) {
        const { answer, events, statuses } = yield* deliver(onCase(status), reopening())
        if (statuses.length === 0) {
          expect(answer).toEqual(new WebhookAcknowledged({ ok: true, ignored: `the case is ${status}` }))
          continue
        }
        expect(answer).toEqual(new WebhookAcknowledged({ ok: true }))
        expect(events).toEqual([{
          kind: "reopened",
          data: { from: status, to: "needs_attention", by: "Codertocat", channelType: "github" }
        }])
        reopenedFrom.push(status)
      }
      expect(reopenedFrom.sort()).toEqual(["awaiting_approval", "closed", "replied", "resolved"])
    }))

  it.effect("claims the reopening itself, not only the delivery: a replay under a new delivery id changes nothing", () =>
    Effect.gen(function*() {
      const claimed: Array<ReadonlyArray<string>> = []
      const first = reopening()
      yield* deliver({ ...onCase("closed"), claimDelivery: (_, keys) => Effect.sync(() => void claimed.push(keys)) }, first)
      expect(claimed[0]).toEqual([
        `github-delivery:${first.headers["x-github-delivery"]}`,
        "github-reopen:444500041@2021-10-11T16:40:56Z"
      ])

      const replayed = yield* deliver({
        ...onCase("closed"),
        claimDelivery: () => Effect.fail(new DeliverySeenBefore())
      }, reopening())
      expect(replayed.answer).toEqual(new WebhookAcknowledged({ ok: true, ignored: "seen before" }))
      expect(replayed.statuses).toEqual([])
      expect(replayed.events).toEqual([])
    }))

  it.effect("acknowledges a reopening of an issue that has no case", () =>
    Effect.gen(function*() {
      const { answer, statuses } = yield* deliver({
        claimDelivery: () => Effect.void,
        findByThread: () => Effect.succeed(Option.none())
      }, reopening())
      expect(answer).toEqual(new WebhookAcknowledged({ ok: true, ignored: "no case for this conversation" }))
      expect(statuses).toEqual([])
    }))
})
