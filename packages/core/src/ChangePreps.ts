/**
 * Change-prep: a pull-request draft for a bug or incident no article answers — written by the
 * change_prep job when matching routes a case there, or when an agent asks — and read as JSON
 * or as Markdown. The model (the `change_prep` task, `complex` tier; builtin: heuristics) reads
 * the customer's messages and the product's components; the cases matching found alike are
 * added as "also reported in". Components the model names that the product does not have are
 * dropped: only the product's own are suspected, with their path hints.
 */
import * as ChangePrepTask from "@nestfleet/ai/ChangePrepTask"
import { Llm, LlmCallSite } from "@nestfleet/ai/Llm"
import { CasesRepo } from "@nestfleet/db/CasesRepo"
import { type ChangePrepRow, ChangePrepsRepo } from "@nestfleet/db/ChangePrepsRepo"
import { MatchesRepo } from "@nestfleet/db/MatchesRepo"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import type { SignedInUser } from "@nestfleet/domain/Access"
import type { CaseId } from "@nestfleet/domain/Cases"
import { CaseNotFound } from "@nestfleet/domain/CasesApi"
import { ChangePrep, RelatedCase, SuspectedComponent } from "@nestfleet/domain/ChangePreps"
import { ChangePrepNotFound, ChangePrepRequested } from "@nestfleet/domain/ChangePrepsApi"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { ChangePrepJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect, Option } from "effect"
import * as CaseText from "./CaseText.js"
import * as ChangePrepMarkdown from "./ChangePrepMarkdown.js"
import { orDieUnexpected } from "./Unexpected.js"

/** Why a change-prep is written: matching routed the case to it, or a person asked. */
export type ChangePrepReason = "routed" | "requested"

/** Each customer message given to the model, at most this long. */
const maxMessageCharacters = 8000

const toChangePrep = (row: ChangePrepRow) => new ChangePrep({ caseId: row.caseId, ...row.draft, author: row.author, createdAt: row.createdAt })

const caseNotFound = (id: CaseId) => new CaseNotFound({ message: `No case has the id ${id}` })

export class ChangePreps extends Effect.Service<ChangePreps>()("@nestfleet/core/ChangePreps", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const cases = yield* CasesRepo
    const repo = yield* ChangePrepsRepo
    const matches = yield* MatchesRepo
    const products = yield* ProductsRepo
    const queue = yield* JobQueue
    const llm = yield* Llm

    const run = Effect.fn("ChangePreps.run")(function*(caseId: CaseId, jobId: string, reason: ChangePrepReason) {
      yield* Effect.annotateCurrentSpan({ "case.id": caseId, "change_prep.reason": reason })
      if (yield* repo.findByJob(jobId)) return yield* Effect.logInfo("ChangePreps: this job already wrote its draft")
      const found = yield* cases.findById(caseId)
      if (Option.isNone(found)) return yield* Effect.logWarning("ChangePreps: the case no longer exists")
      const row = found.value
      const product = yield* Effect.flatten(products.findById(row.productId))
      const messages = (yield* cases.messagesOf(caseId)).filter((message) => message.kind === "inbound")
      const components = product.settings.components
      const answer = yield* llm.generate(
        ChangePrepTask.changePrep,
        ChangePrepTask.encodeInput({
          subject: row.subject,
          type: row.type,
          severity: row.severity,
          messages: messages.map((message) => CaseText.tidy(message.body).slice(0, maxMessageCharacters)),
          components: components.map(({ description, name, pathHints }) => ({ name, description, pathHints }))
        })
      )
      const match = yield* matches.latestResult(caseId)
      const relatedCases = Option.match(match, { onNone: () => [], onSome: (result) => result.matches }).flatMap((found) =>
        found.kind === "case" && found.caseId !== undefined && found.caseNumber !== undefined
          ? [new RelatedCase({ caseId: found.caseId, caseNumber: found.caseNumber, title: found.title, score: found.score })]
          : []
      )
      const draft = {
        ...answer.value,
        components: answer.value.components.flatMap(({ name, why }) => {
          const component = components.find((candidate) => candidate.name === name)
          return component === undefined ? [] : [new SuspectedComponent({ name, pathHints: component.pathHints, why })]
        }),
        relatedCases
      }
      const author = `${answer.provider}/${answer.model}`
      yield* transactions.withTransaction(Effect.gen(function*() {
        yield* Effect.flatten(cases.lock(caseId))
        if (!(yield* repo.insert({ caseId, jobId, draft, author }))) return
        yield* cases.insertEvent({
          caseId,
          kind: "change_prep_written",
          actorUserId: null,
          data: { reason, title: draft.title, risk: draft.risk.level, components: draft.components.map((c) => c.name), author }
        })
      }))
    }, (effect, caseId) => Effect.provideService(effect, LlmCallSite, { caseId, step: "change_prep" }), orDieUnexpected)

    const request = Effect.fn("ChangePreps.request")(function*(user: SignedInUser, caseId: CaseId) {
      return yield* transactions.withTransaction(Effect.gen(function*() {
        if (Option.isNone(yield* cases.lock(caseId))) return yield* caseNotFound(caseId)
        const job = yield* queue.send(ChangePrepJob, { caseId, reason: "requested" as const }).pipe(Effect.orDie)
        const jobId = Option.getOrNull(job)
        yield* cases.insertEvent({ caseId, kind: "change_prep_requested", actorUserId: user.id, data: { jobId } })
        return new ChangePrepRequested({ caseId, jobId })
      }))
    }, orDieUnexpected)

    const latestWithCase = (caseId: CaseId) =>
      Effect.gen(function*() {
        const found = yield* cases.findById(caseId)
        if (Option.isNone(found)) return yield* caseNotFound(caseId)
        const row = yield* repo.latest(caseId)
        if (Option.isNone(row)) return yield* new ChangePrepNotFound({ message: `Case #${found.value.number} has no change-prep yet` })
        return { prep: toChangePrep(row.value), number: found.value.number }
      })

    const latest = Effect.fn("ChangePreps.latest")(function*(caseId: CaseId) {
      return (yield* latestWithCase(caseId)).prep
    }, orDieUnexpected)

    const markdown = Effect.fn("ChangePreps.markdown")(function*(caseId: CaseId) {
      const { number, prep } = yield* latestWithCase(caseId)
      return ChangePrepMarkdown.render(prep, number)
    }, orDieUnexpected)

    return { run, request, latest, markdown } as const
  }),
  dependencies: [Transactions.Default, CasesRepo.Default, ChangePrepsRepo.Default, MatchesRepo.Default, ProductsRepo.Default]
}) {}
