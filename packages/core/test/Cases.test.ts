/**
 * The retriage answer, as a rule: Cases over test doubles — a `CasesRepo` double that knows
 * one case, a `JobQueue` double that says whether a retriage waits — with `it.effect`'s
 * `TestClock` as the clock. (50 requests at once against the real server, database and job
 * queue are in apps/api/test/Intake.test.ts.)
 */
import { expect, it } from "@effect/vitest"
import { CaseEventRow, CaseRow, CasesRepo } from "@nestfleet/db/CasesRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { UsersRepo } from "@nestfleet/db/UsersRepo"
import { AiCallsRepo } from "@nestfleet/db/AiCallsRepo"
import { DraftsRepo } from "@nestfleet/db/DraftsRepo"
import { MatchesRepo } from "@nestfleet/db/MatchesRepo"
import type { SignedInUser } from "@nestfleet/domain/Access"
import { CaseEvent, CaseId } from "@nestfleet/domain/Cases"
import { RetriageAlreadyQueued } from "@nestfleet/domain/CasesApi"
import { ChannelId } from "@nestfleet/domain/Channels"
import { ProductId } from "@nestfleet/domain/Products"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { UserId } from "@nestfleet/domain/Users"
import { JobId, JobQueue } from "@nestfleet/jobs/JobQueue"
import { Effect, Exit, Layer, Option, TestClock } from "effect"
import { Cases } from "../src/Cases.js"

const caseId = CaseId.make("6f1c2a9e-8d4b-4c3a-9f2e-1b7d5e3a0c44")
const agent: SignedInUser = {
  id: UserId.make("0b6c1c55-3f0e-4c7a-8d57-8d1f3c9a2b10"),
  email: "lin@example.com",
  name: "Lin",
  roles: ["agent"],
  sessionId: "session-1"
}

const row = new CaseRow({
  id: caseId,
  number: 1042,
  productId: ProductId.make("5a0f3c1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b"),
  channelId: ChannelId.make("7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b"),
  threadKey: "external:1",
  subject: "Export crashes",
  status: "triaged",
  type: "bug",
  severity: "high",
  assigneeId: null,
  customer: {},
  createdAt: new Date(0),
  updatedAt: new Date(0),
  createdAtKey: "1970-01-01T00:00:00.000000Z"
})

/**
 * Cases over doubles: the case exists; `waiting` is the retriage job the queue says waits, if
 * any, and `lastRequested` the case's latest `retriage_requested` event, if any.
 */
const casesWith = (
  waiting: Option.Option<{ readonly id: JobId; readonly createdOn: Date }>,
  lastRequested: Option.Option<CaseEventRow> = Option.none()
) => {
  const sent: Array<{ readonly payload: unknown; readonly singletonKey: string | undefined }> = []
  const events: Array<{ readonly kind: string; readonly data: unknown }> = []
  const layer = Cases.DefaultWithoutDependencies.pipe(Layer.provide([
    makeTestLayer(CasesRepo)({
      lock: (id) => Effect.succeed(id === caseId ? Option.some(row) : Option.none()),
      latestEvent: ({ kind }) => Effect.succeed(kind === "retriage_requested" ? lastRequested : Option.none()),
      insertEvent: ({ data, kind }) => Effect.sync(() => void events.push({ kind, data }))
    }),
    makeTestLayer(UsersRepo)({}),
    makeTestLayer(MatchesRepo)({}),
    makeTestLayer(AiCallsRepo)({}),
    makeTestLayer(DraftsRepo)({}),
    makeTestLayer(JobQueue)({
      findWaiting: (_job, _key) => Effect.succeed(waiting),
      send: (_job, payload, options) =>
        Effect.sync(() => {
          sent.push({ payload, singletonKey: options?.singletonKey })
          return Option.some(JobId.make("job-2"))
        })
    }),
    Transactions.Passthrough
  ]))
  return { layer, sent, events }
}

it.effect("a retriage queues one job keyed by the case, and its timeline event says who asked, when and which job", () => {
  const { events, layer, sent } = casesWith(Option.none())
  return Effect.gen(function*() {
    yield* TestClock.setTime(Date.parse("2025-03-14T09:00:00Z"))
    const answer = yield* Effect.flatMap(Cases, (cases) => cases.retriage(agent, caseId))
    expect(answer).toEqual(
      new CaseEvent({
        kind: "retriage_requested",
        actorUserId: agent.id,
        data: { jobId: "job-2" },
        createdAt: new Date("2025-03-14T09:00:00Z")
      })
    )
    expect(sent).toEqual([{ payload: { caseId, reason: "retriage" }, singletonKey: `retriage:${caseId}` }])
    expect(events).toEqual([{ kind: "retriage_requested", data: { jobId: "job-2" } }])
  }).pipe(Effect.provide(layer))
})

it.effect("while a retriage waits to start, asking again queues nothing and writes nothing, and names the waiting job", () => {
  const queuedAt = new Date("2025-03-14T08:59:58Z")
  const { events, layer, sent } = casesWith(Option.some({ id: JobId.make("job-1"), createdOn: queuedAt }))
  return Effect.gen(function*() {
    const answer = yield* Effect.flatMap(Cases, (cases) => cases.retriage(agent, caseId))
    expect(answer).toEqual(new RetriageAlreadyQueued({ alreadyQueued: true, jobId: "job-1", queuedAt }))
    expect(sent).toEqual([])
    expect(events).toEqual([])
  }).pipe(Effect.provide(layer))
})

const requestedAt = (at: string) =>
  Option.some(
    new CaseEventRow({
      id: "1",
      caseId,
      kind: "retriage_requested",
      actorUserId: agent.id,
      data: { jobId: "job-1" },
      createdAt: new Date(at)
    })
  )

it.effect("within 10 s of the last request another is the same request: nothing is queued, whatever the job's state", () => {
  // The job has already run (it no longer waits): a double click, or requests that took turns on one connection.
  const { events, layer, sent } = casesWith(Option.none(), requestedAt("2025-03-14T09:00:00Z"))
  return Effect.gen(function*() {
    yield* TestClock.setTime(Date.parse("2025-03-14T09:00:09.999Z"))
    const answer = yield* Effect.flatMap(Cases, (cases) => cases.retriage(agent, caseId))
    expect(answer).toEqual(
      new RetriageAlreadyQueued({ alreadyQueued: true, jobId: "job-1", queuedAt: new Date("2025-03-14T09:00:00Z") })
    )
    expect(sent).toEqual([])
    expect(events).toEqual([])
  }).pipe(Effect.provide(layer))
})

it.effect("10 s after the last request, with no job waiting, another retriage is queued", () => {
  const { events, layer, sent } = casesWith(Option.none(), requestedAt("2025-03-14T09:00:00Z"))
  return Effect.gen(function*() {
    yield* TestClock.setTime(Date.parse("2025-03-14T09:00:10Z"))
    const answer = yield* Effect.flatMap(Cases, (cases) => cases.retriage(agent, caseId))
    expect(answer).toBeInstanceOf(CaseEvent)
    expect(sent).toHaveLength(1)
    expect(events).toEqual([{ kind: "retriage_requested", data: { jobId: "job-2" } }])
  }).pipe(Effect.provide(layer))
})

it.effect("a retriage of a case that does not exist is CaseNotFound, and queues nothing", () => {
  const { layer, sent } = casesWith(Option.none())
  return Effect.gen(function*() {
    const missing = CaseId.make("00000000-0000-4000-8000-000000000000")
    const exit = yield* Effect.exit(Effect.flatMap(Cases, (cases) => cases.retriage(agent, missing)))
    expect(exit).toEqual(Exit.fail(expect.objectContaining({ _tag: "CaseNotFound" })))
    expect(sent).toEqual([])
  }).pipe(Effect.provide(layer))
})
