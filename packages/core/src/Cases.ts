/**
 * Reading and working cases. Every change a person makes — status, assignee, type,
 * severity, a note, a request for another triage — lands in the case's timeline with who
 * made it and when.
 *
 * To run it over test doubles, as `packages/core/test/Cases.test.ts` does for the retriage
 * answer: `Cases.DefaultWithoutDependencies` over `makeTestLayer(CasesRepo)({ … })`,
 * `makeTestLayer(UsersRepo)({ … })`, `makeTestLayer(JobQueue)({ findWaiting, send })`
 * (from `@nestfleet/domain/testing/TestLayer`; an unstubbed method dies, naming itself) and
 * `Transactions.Passthrough`, with `it.effect`'s `TestClock` as the clock.
 */
import { Transactions } from "@nestfleet/db/Transactions"
import { CasesRepo, type CaseEventRow, type CaseRow, type MessageRow, type TriageRow } from "@nestfleet/db/CasesRepo"
import { UsersRepo } from "@nestfleet/db/UsersRepo"
import { AiCallsRepo } from "@nestfleet/db/AiCallsRepo"
import { DraftsRepo } from "@nestfleet/db/DraftsRepo"
import { MatchesRepo } from "@nestfleet/db/MatchesRepo"
import type { SignedInUser } from "@nestfleet/domain/Access"
import { CaseDetail } from "@nestfleet/domain/CaseDetail"
import {
  AiCall,
  CaseEvent,
  type CaseId,
  CasePage,
  CaseSummary,
  Customer,
  Message,
  DuplicateMark,
  MessageAuthor,
  MessageDelivery,
  Routing,
  Triage
} from "@nestfleet/domain/Cases"
import {
  AssigneeNotFound,
  type CaseChanges,
  CaseNotFound,
  type CaseQuery,
  InvalidDuplicate,
  type NewNote,
  RetriageAlreadyQueued
} from "@nestfleet/domain/CasesApi"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { TriageJob } from "@nestfleet/jobs/PipelineJobs"
import { Clock, Context, Duration, Effect, Option, Schema } from "effect"
import { toDraftVersion } from "./Drafts.js"
import * as KeysetCursor from "./KeysetCursor.js"
import { orDieUnexpected } from "./Unexpected.js"

const defaultPageSize = 25

const toSummary = (row: CaseRow) =>
  new CaseSummary({
    id: row.id,
    number: row.number,
    productId: row.productId,
    channelId: row.channelId,
    subject: row.subject,
    status: row.status,
    type: row.type,
    severity: row.severity,
    assigneeId: row.assigneeId,
    customer: Schema.decodeUnknownSync(Customer)(row.customer, { onExcessProperty: "ignore" }),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt
  })

const toMessage = (row: MessageRow) =>
  new Message({
    id: row.id,
    kind: row.kind,
    author: Schema.decodeUnknownSync(MessageAuthor)(
      row.authorUserId === null ? row.author : { ...row.author, userId: row.authorUserId },
      { onExcessProperty: "ignore" }
    ),
    body: row.body,
    html: row.html,
    delivery: row.draftId === null || row.draftVersion === null || row.deliveryState === null
      ? null
      : new MessageDelivery({
        state: row.deliveryState,
        draftId: row.draftId,
        version: row.draftVersion,
        error: row.deliveryError,
        deliveredAt: row.deliveredAt
      }),
    createdAt: row.createdAt
  })

const toTriage = (row: TriageRow) =>
  new Triage({
    type: row.type,
    severity: row.severity,
    confidence: row.confidence,
    summary: row.summary,
    reasoning: row.reasoning,
    provider: row.provider,
    model: row.model,
    createdAt: row.createdAt
  })

const toEvent = (row: CaseEventRow) =>
  new CaseEvent({ kind: row.kind, actorUserId: row.actorUserId, data: row.data, createdAt: row.createdAt })

/** The singleton key of a case's retriage jobs: at most one of them waits at a time. */
const retriageKey = (id: CaseId) => `retriage:${id}`

/**
 * How long after a retriage request another one is taken for the same request: a double
 * click, a retrying client, or requests that reached the embedded database's one connection
 * in turn, where each triage may have finished before the next request is read. A reference
 * so that a test can shorten it.
 */
export class RetriageCooldown extends Context.Reference<RetriageCooldown>()("@nestfleet/core/Cases/RetriageCooldown", {
  defaultValue: () => Duration.seconds(10)
}) {}

const retriageJobId = Schema.decodeUnknownOption(Schema.Struct({ jobId: Schema.String }))

const caseNotFound = (id: string) => new CaseNotFound({ message: `No case has the id ${id}` })

export class Cases extends Effect.Service<Cases>()("@nestfleet/core/Cases", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const repo = yield* CasesRepo
    const matches = yield* MatchesRepo
    const aiCalls = yield* AiCallsRepo
    const drafts = yield* DraftsRepo
    const users = yield* UsersRepo
    const queue = yield* JobQueue
    const cooldownMillis = Duration.toMillis(yield* RetriageCooldown)

    const list = Effect.fn("Cases.list")(function*(query: CaseQuery) {
      const limit = query.limit ?? defaultPageSize
      const after = query.cursor === undefined ? undefined : yield* KeysetCursor.decode(query.cursor)
      const rows = yield* repo.list({ ...query, after, limit: limit + 1 })
      const page = rows.slice(0, limit)
      return new CasePage({
        items: page.map(toSummary),
        nextCursor: rows.length > limit ? KeysetCursor.encode(page[page.length - 1]!) : null
      })
    }, orDieUnexpected)

    /** The case as one moment saw it: never a triage result without the status it set. */
    const get = Effect.fn("Cases.get")(function*(id: CaseId) {
      const read = yield* transactions.withSnapshot(Effect.gen(function*() {
        const row = yield* repo.findById(id)
        if (Option.isNone(row)) return Option.none()
        const [messages, triage, timeline, match, state, calls, versions] = yield* Effect.all([
          repo.messagesOf(id),
          repo.latestTriage(id),
          repo.eventsOf(id),
          matches.latestResult(id),
          Effect.flatten(matches.stateOf(id)),
          aiCalls.ofCase(id),
          drafts.versionsOfCase(id)
        ])
        return Option.some({ row: row.value, messages, triage, timeline, match, state, calls, versions })
      }))
      if (Option.isNone(read)) return yield* caseNotFound(id)
      const { calls, match, messages, row, state, timeline, triage, versions } = read.value
      return new CaseDetail({
        case: toSummary(row),
        messages: messages.map(toMessage),
        triage: Option.getOrNull(Option.map(triage, toTriage)),
        matches: Option.match(match, { onNone: () => [], onSome: (result) => result.matches }),
        matchReasoning: Option.match(match, { onNone: () => [], onSome: (result) => result.reasoning }),
        routing: state.routing === null ? null : new Routing({ ...state.routing, at: new Date(state.routing.at) }),
        duplicate: state.duplicateOf === null || state.duplicateState === null || state.duplicateNumber === null
          ? null
          : new DuplicateMark({
            caseId: state.duplicateOf,
            caseNumber: state.duplicateNumber,
            state: state.duplicateState,
            score: state.duplicateScore
          }),
        aiCalls: calls.map((call) => new AiCall(call)),
        drafts: versions.map(toDraftVersion),
        timeline: timeline.map(toEvent)
      })
    }, orDieUnexpected)

    /** An agent says this case repeats another (confirming a suggestion, or on their own); never merged. */
    const markDuplicate = Effect.fn("Cases.markDuplicate")(function*(user: SignedInUser, id: CaseId, of: CaseId) {
      if (id === of) return yield* new InvalidDuplicate({ message: "A case cannot be a duplicate of itself" })
      yield* transactions.withTransaction(Effect.gen(function*() {
        yield* lock(id)
        const original = yield* repo.findById(of)
        if (Option.isNone(original)) return yield* new InvalidDuplicate({ message: `No case has the id ${of}` })
        const row = yield* Effect.flatten(repo.findById(id))
        if (original.value.productId !== row.productId) {
          return yield* new InvalidDuplicate({ message: "A case can only repeat a case of the same product" })
        }
        const current = yield* Effect.flatten(matches.stateOf(id))
        const score = current.duplicateOf === of ? current.duplicateScore : null
        yield* matches.setDuplicate(id, of, "confirmed", score)
        yield* repo.insertEvent({
          caseId: id,
          kind: "duplicate_confirmed",
          actorUserId: user.id,
          data: { of, caseNumber: original.value.number, suggested: current.duplicateOf === of }
        })
      }))
      return yield* get(id)
    }, orDieUnexpected)

    /** An agent says this case is not a duplicate: matching will not suggest one again. */
    const dismissDuplicate = Effect.fn("Cases.dismissDuplicate")(function*(user: SignedInUser, id: CaseId) {
      yield* transactions.withTransaction(Effect.gen(function*() {
        yield* lock(id)
        const current = yield* Effect.flatten(matches.stateOf(id))
        yield* matches.setDuplicate(id, current.duplicateOf, "dismissed", current.duplicateScore)
        yield* repo.insertEvent({
          caseId: id,
          kind: "duplicate_dismissed",
          actorUserId: user.id,
          data: { of: current.duplicateOf }
        })
      }))
      return yield* get(id)
    }, orDieUnexpected)

    const lock = (id: CaseId) =>
      Effect.flatMap(repo.lock(id), Option.match({ onNone: () => Effect.fail(caseNotFound(id)), onSome: Effect.succeed }))

    /** A person's change; each field that really changes is one timeline event. */
    const update = Effect.fn("Cases.update")(function*(user: SignedInUser, id: CaseId, changes: CaseChanges) {
      if (changes.assigneeId !== undefined && changes.assigneeId !== null) {
        const assignee = yield* users.findById(changes.assigneeId)
        if (Option.isNone(assignee) || assignee.value.disabled) {
          return yield* new AssigneeNotFound({ message: `No enabled user has the id ${changes.assigneeId}` })
        }
      }
      yield* transactions.withTransaction(Effect.gen(function*() {
        const before = yield* lock(id)
        yield* repo.update({ id, ...changes })
        const changed = (["status", "assigneeId", "type", "severity"] as const).filter((field) =>
          changes[field] !== undefined && changes[field] !== before[field]
        )
        yield* Effect.forEach(changed, (field) =>
          repo.insertEvent({
            caseId: id,
            kind: `${field === "assigneeId" ? "assignee" : field}_changed`,
            actorUserId: user.id,
            data: { from: before[field], to: changes[field] }
          }), { discard: true })
      }))
      return yield* get(id)
    }, orDieUnexpected)

    const addNote = Effect.fn("Cases.addNote")(function*(user: SignedInUser, id: CaseId, note: NewNote) {
      yield* transactions.withTransaction(Effect.gen(function*() {
        yield* lock(id)
        const message = yield* repo.insertMessage({
          caseId: id,
          kind: "note",
          externalId: null,
          author: { name: user.name, email: user.email },
          authorUserId: user.id,
          body: note.body,
          html: null,
          metadata: {}
        })
        yield* repo.insertEvent({ caseId: id, kind: "note_added", actorUserId: user.id, data: { messageId: message.id } })
      }))
      return yield* get(id)
    }, orDieUnexpected)

    /**
     * The retriage a new request would repeat: one asked for within `RetriageCooldown`, or one
     * still waiting to start (it reads the case as it is when it starts, however long ago it
     * was asked for).
     */
    const pendingRetriage = (id: CaseId) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const latest = yield* repo.latestEvent({ caseId: id, kind: "retriage_requested" })
        if (Option.isSome(latest) && now - latest.value.createdAt.getTime() < cooldownMillis) {
          const jobId = retriageJobId(latest.value.data)
          if (Option.isSome(jobId)) return Option.some({ id: jobId.value.jobId, createdOn: latest.value.createdAt })
        }
        return yield* queue.findWaiting(TriageJob, retriageKey(id)).pipe(Effect.orDie)
      })

    /**
     * Another triage, queued unless the request repeats one (see `pendingRetriage`). The
     * case's row lock makes concurrent requests take turns, so each sees what the one before
     * queued.
     */
    const retriage = Effect.fn("Cases.retriage")(function*(user: SignedInUser, id: CaseId) {
      return yield* transactions.withTransaction(Effect.gen(function*() {
        yield* lock(id)
        const singletonKey = retriageKey(id)
        const pending = yield* pendingRetriage(id)
        if (Option.isSome(pending)) {
          return new RetriageAlreadyQueued({ alreadyQueued: true, jobId: pending.value.id, queuedAt: pending.value.createdOn })
        }
        const job = yield* queue.send(TriageJob, { caseId: id, reason: "retriage" as const }, { singletonKey }).pipe(
          Effect.orDie
        )
        const data = { jobId: Option.getOrNull(job) }
        yield* repo.insertEvent({ caseId: id, kind: "retriage_requested", actorUserId: user.id, data })
        const createdAt = new Date(yield* Clock.currentTimeMillis)
        return new CaseEvent({ kind: "retriage_requested", actorUserId: user.id, data, createdAt })
      }))
    }, orDieUnexpected)

    return { list, get, update, addNote, retriage, markDuplicate, dismissDuplicate } as const
  }),
  dependencies: [
    Transactions.Default,
    CasesRepo.Default,
    UsersRepo.Default,
    MatchesRepo.Default,
    AiCallsRepo.Default,
    DraftsRepo.Default
  ]
}) {}
