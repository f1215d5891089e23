/**
 * The pipeline's first step: classify a case and act on it. The model is asked outside
 * any transaction; its answer is stored, with the case's new type, severity and status and
 * a timeline event, in one transaction keyed by the job — so a retry of the same job,
 * after a crash at any point, neither adds a second result nor a second event.
 *
 * Without a database, `Triage.DefaultWithoutDependencies` runs over repository doubles
 * (`makeTestLayer` from `@nestfleet/domain/testing/TestLayer`), `Transactions.Passthrough`
 * and a scripted model (`@nestfleet/ai/testing/ScriptedProvider`); `test/TriageRules.test.ts`
 * states the rules below that way.
 */
import { Llm, LlmCallSite } from "@nestfleet/ai/Llm"
import * as TriageTask from "@nestfleet/ai/TriageTask"
import { Transactions } from "@nestfleet/db/Transactions"
import { CasesRepo, type CaseRow } from "@nestfleet/db/CasesRepo"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import type { CaseId, CaseStatus } from "@nestfleet/domain/Cases"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { KnownIssueMatchJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect, Option } from "effect"
import * as CaseText from "./CaseText.js"
import { orDieUnexpected } from "./Unexpected.js"

/** Statuses triage may move a case out of; later ones belong to people and later steps. */
const triageable: ReadonlySet<CaseStatus> = new Set(["new", "triaged", "needs_attention"])

const maxInputCharacters = 20_000

type TriageReason = "new_case" | "follow_up" | "retriage"

/**
 * What a result does to a case. `new_case` (and `follow_up`, a customer writing again) fills in what nobody has decided yet: a type or
 * severity a person already set stays, and only a case still `new` moves. `retriage` is a
 * person asking for a new opinion: type and severity are replaced, and any case not yet past
 * triage moves. A case that moves is `triaged` when the model is confident enough for the
 * product, and otherwise `needs_attention`.
 */
const decide = (current: CaseRow, result: TriageTask.TriageOutput, reason: TriageReason, confident: boolean) => {
  const fresh = reason === "retriage"
  const movable = fresh ? triageable.has(current.status) : current.status === "new"
  return {
    type: fresh || current.type === null ? result.type : current.type,
    severity: fresh || current.severity === null ? result.severity : current.severity,
    status: movable ? (confident ? "triaged" : "needs_attention") : current.status
  } as const
}

export class Triage extends Effect.Service<Triage>()("@nestfleet/core/Triage", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const cases = yield* CasesRepo
    const products = yield* ProductsRepo
    const llm = yield* Llm
    const queue = yield* JobQueue

    const run = Effect.fn("Triage.run")(function*(caseId: CaseId, jobId: string, reason: TriageReason) {
      yield* Effect.annotateCurrentSpan({ "case.id": caseId })
      const found = yield* cases.findById(caseId)
      // A case that is gone leaves nothing to triage; the job is done.
      if (Option.isNone(found)) return yield* Effect.logWarning("Triage: the case no longer exists")
      const row = found.value
      const messages = yield* cases.messagesOf(caseId)
      const body = CaseText.customerText(messages, maxInputCharacters)
      const answer = yield* llm.generate(TriageTask.triage, TriageTask.encodeInput({ subject: row.subject, body }))
      const result = answer.value
      const product = yield* Effect.flatten(products.findById(row.productId))
      const confident = result.confidence >= product.settings.triageMinConfidence

      yield* transactions.withTransaction(Effect.gen(function*() {
        const current = yield* Effect.flatten(cases.lock(caseId))
        const stored = yield* cases.insertTriage({
          caseId,
          jobId,
          type: result.type,
          severity: result.severity,
          confidence: result.confidence,
          summary: result.summary,
          reasoning: result.reasoning,
          provider: answer.provider,
          model: answer.model
        })
        if (Option.isNone(stored)) return yield* Effect.logInfo("Triage: this job already stored its result")
        const next = decide(current, result, reason, confident)
        yield* cases.update({ id: caseId, ...next })
        yield* cases.insertEvent({
          caseId,
          kind: "triaged",
          actorUserId: null,
          data: {
            type: result.type,
            severity: result.severity,
            confidence: result.confidence,
            threshold: product.settings.triageMinConfidence,
            status: { from: current.status, to: next.status },
            reason,
            provider: answer.provider,
            model: answer.model
          }
        })
        // Every case is matched, a doubtful one too: matches help whoever reads it.
        yield* queue.send(KnownIssueMatchJob, { caseId }).pipe(Effect.orDie)
      }))
    }, (effect, caseId) => Effect.provideService(effect, LlmCallSite, { caseId: caseId, step: "triage" }), orDieUnexpected)

    return { run } as const
  }),
  dependencies: [Transactions.Default, CasesRepo.Default, ProductsRepo.Default]
}) {}
