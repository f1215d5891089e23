/**
 * What people do with reply drafts: ask for one, edit it, approve or reject it, and the queue
 * of drafts waiting for them. Every decision is on the case's timeline with who made it.
 *
 * An approval is bound to what the agent saw: it names a version, and it is a conflict (409,
 * nothing changed) when that version is not the newest, is no longer waiting, or the customer
 * wrote again after it was made. The case's row lock orders a decision against the pipeline
 * writing a new version, and against a new message arriving.
 */
import { CasesRepo } from "@nestfleet/db/CasesRepo"
import { type DraftRow, DraftsRepo, type DraftVersionRow } from "@nestfleet/db/DraftsRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import type { SignedInUser } from "@nestfleet/domain/Access"
import { type CaseId, type CaseStatus, ReasoningStep } from "@nestfleet/domain/Cases"
import { CaseNotFound } from "@nestfleet/domain/CasesApi"
import { DraftAuthor, type DraftId, DraftVersion } from "@nestfleet/domain/Drafts"
import {
  ApprovalPage,
  type ApprovalQuery,
  DraftConflict,
  type DraftEdit,
  DraftNotFound,
  DraftRequested,
  PendingApproval,
  type Rejection
} from "@nestfleet/domain/DraftsApi"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { AutoReplyJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect, Option } from "effect"
import * as KeysetCursor from "./KeysetCursor.js"
import { ReplyOutbox } from "./ReplyOutbox.js"
import { markersOf } from "./ReplyGuard.js"
import { orDieUnexpected } from "./Unexpected.js"

const defaultPageSize = 25

/** Statuses a version waiting for approval moves the case to `awaiting_approval` from (an agent's or the pipeline's). */
export const awaitable: ReadonlySet<CaseStatus> = new Set(["new", "triaged", "needs_attention", "replied"])

export const toDraftVersion = (row: DraftVersionRow) =>
  new DraftVersion({
    id: row.draftId,
    caseId: row.caseId,
    version: row.version,
    status: row.status,
    body: row.body,
    citations: row.citations,
    author: row.author,
    reasoning: row.reasoning,
    decision: row.decision,
    decidedBy: row.decidedBy,
    decidedAt: row.decidedAt,
    createdAt: row.createdAt
  })

const draftNotFound = (id: DraftId) => new DraftNotFound({ message: `No draft has the id ${id}` })

export class Drafts extends Effect.Service<Drafts>()("@nestfleet/core/Drafts", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const cases = yield* CasesRepo
    const repo = yield* DraftsRepo
    const queue = yield* JobQueue
    const outbox = yield* ReplyOutbox

    /**
     * The draft and its newest version, locked: the case first (as the pipeline and intake
     * lock it), then the draft.
     */
    const lockDraft = (id: DraftId) =>
      Effect.gen(function*() {
        const draft = yield* repo.findById(id)
        if (Option.isNone(draft)) return yield* draftNotFound(id)
        const current = yield* Effect.flatten(cases.lock(draft.value.caseId))
        const locked: DraftRow = yield* Effect.flatten(repo.lock(id))
        const latest = yield* Effect.flatten(repo.findVersion({ draftId: id, version: locked.latestVersion }))
        return { case: current, draft: locked, latest }
      })

    /** The version a person names must be the newest, if they name one. */
    const requireNewest = (latest: DraftVersionRow, version: number | undefined) =>
      version === undefined || version === latest.version
        ? Effect.void
        : Effect.fail(new DraftConflict({ message: `Version ${latest.version} is the draft's newest; version ${version} was not decided on` }))

    const requirePending = (latest: DraftVersionRow) =>
      latest.status === "pending"
        ? Effect.void
        : Effect.fail(new DraftConflict({ message: `Version ${latest.version} is ${latest.status}, not waiting for a decision` }))

    const approve = Effect.fn("Drafts.approve")(function*(user: SignedInUser, id: DraftId, version: number) {
      yield* Effect.annotateCurrentSpan({ "draft.id": id, "draft.version": version })
      const approved = yield* transactions.withTransaction(Effect.gen(function*() {
        const { latest } = yield* lockDraft(id)
        yield* requireNewest(latest, version)
        yield* requirePending(latest)
        const newest = yield* cases.latestInbound(latest.caseId)
        if (Option.isSome(newest) && newest.value.id !== latest.answersMessageId) {
          return yield* new DraftConflict({
            message: `The customer wrote again after version ${version} was made; read the new message and approve a newer version`
          })
        }
        const row = yield* repo.decide({
          draftId: id,
          version,
          status: "approved",
          decision: `Approved by ${user.name}`,
          decidedBy: user.id
        })
        yield* cases.insertEvent({
          caseId: latest.caseId,
          kind: "draft_approved",
          actorUserId: user.id,
          data: { draftId: id, version, by: "agent" }
        })
        yield* outbox.enqueue(row, { userId: user.id, name: user.name })
        return row
      }))
      return toDraftVersion(approved)
    }, orDieUnexpected)

    const reject = Effect.fn("Drafts.reject")(function*(user: SignedInUser, id: DraftId, rejection: Rejection) {
      yield* Effect.annotateCurrentSpan({ "draft.id": id })
      const rejected = yield* transactions.withTransaction(Effect.gen(function*() {
        const { case: current, latest } = yield* lockDraft(id)
        yield* requireNewest(latest, rejection.version)
        yield* requirePending(latest)
        const row = yield* repo.decide({
          draftId: id,
          version: latest.version,
          status: "rejected",
          decision: rejection.reason,
          decidedBy: user.id
        })
        // No reply is on its way: the case is a person's again.
        if (current.status === "awaiting_approval") yield* cases.update({ id: latest.caseId, status: "needs_attention" })
        yield* cases.insertEvent({
          caseId: latest.caseId,
          kind: "draft_rejected",
          actorUserId: user.id,
          data: { draftId: id, version: latest.version, reason: rejection.reason }
        })
        return row
      }))
      return toDraftVersion(rejected)
    }, orDieUnexpected)

    /**
     * The agent's text as a new version, waiting for approval like any other; the sources it
     * still cites are kept. A version already approved is being sent and is not edited over.
     */
    const edit = Effect.fn("Drafts.edit")(function*(user: SignedInUser, id: DraftId, change: DraftEdit) {
      yield* Effect.annotateCurrentSpan({ "draft.id": id })
      const edited = yield* transactions.withTransaction(Effect.gen(function*() {
        const { case: current, draft, latest } = yield* lockDraft(id)
        yield* requireNewest(latest, change.version)
        // An approved version is on its way, unless its delivery failed for good: then the agent
        // the case went back to writes another.
        if (latest.status === "approved") {
          const reply = yield* cases.outboundOf({ draftId: id, draftVersion: latest.version })
          if (Option.isNone(reply) || reply.value.deliveryState !== "failed") {
            return yield* new DraftConflict({ message: `Version ${latest.version} is approved and being sent` })
          }
        }
        const cited = new Set(markersOf(change.body))
        const newest = yield* cases.latestInbound(latest.caseId)
        const row = yield* repo.addVersion({
          draftId: draft.id,
          status: "pending",
          body: change.body,
          citations: latest.citations.filter((citation) => cited.has(citation.n)),
          author: new DraftAuthor({ kind: "user", name: user.name, userId: user.id }),
          reasoning: [
            new ReasoningStep({ step: "Edited", detail: `${user.name} wrote it from version ${latest.version}.`, evidence: [] })
          ],
          jobId: null,
          answersMessageId: Option.match(newest, { onNone: () => null, onSome: (message) => message.id }),
          decision: null,
          decidedBy: null
        })
        if (awaitable.has(current.status)) yield* cases.update({ id: latest.caseId, status: "awaiting_approval" })
        yield* cases.insertEvent({
          caseId: latest.caseId,
          kind: "draft_edited",
          actorUserId: user.id,
          data: { draftId: id, version: row.version, from: latest.version }
        })
        return row
      }))
      return toDraftVersion(edited)
    }, orDieUnexpected)

    /** A new draft from the case's matches, written by the auto_reply job. */
    const request = Effect.fn("Drafts.request")(function*(user: SignedInUser, caseId: CaseId) {
      return yield* transactions.withTransaction(Effect.gen(function*() {
        const found = yield* cases.lock(caseId)
        if (Option.isNone(found)) return yield* new CaseNotFound({ message: `No case has the id ${caseId}` })
        const job = yield* queue.send(AutoReplyJob, { caseId, reason: "requested" as const }).pipe(Effect.orDie)
        const jobId = Option.getOrNull(job)
        yield* cases.insertEvent({ caseId, kind: "draft_requested", actorUserId: user.id, data: { jobId } })
        return new DraftRequested({ caseId, jobId })
      }))
    }, orDieUnexpected)

    const approvals = Effect.fn("Drafts.approvals")(function*(query: ApprovalQuery) {
      const limit = query.limit ?? defaultPageSize
      const after = query.cursor === undefined ? undefined : yield* KeysetCursor.decode(query.cursor)
      const rows = yield* repo.pendingApprovals({
        ...query,
        after: after === undefined ? undefined : { createdAtKey: after.createdAtKey, draftId: after.id },
        limit: limit + 1
      })
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      return new ApprovalPage({
        items: page.map((row) =>
          new PendingApproval({
            draftId: row.draftId,
            version: row.version,
            body: row.body,
            createdAt: row.createdAt,
            caseId: row.caseId,
            caseNumber: row.caseNumber,
            subject: row.subject,
            productId: row.productId,
            type: row.type,
            assigneeId: row.assigneeId
          })
        ),
        nextCursor: rows.length > limit && last !== undefined
          ? KeysetCursor.encode({ createdAtKey: last.createdAtKey, id: last.draftId })
          : null
      })
    }, orDieUnexpected)

    return { approve, reject, edit, request, approvals } as const
  }),
  dependencies: [Transactions.Default, CasesRepo.Default, DraftsRepo.Default, ReplyOutbox.Default]
}) {}
