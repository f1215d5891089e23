/**
 * Triage's rules, each on its own: Triage over repository doubles, `Transactions.Passthrough`
 * and a scripted model, without a database. A repository member a test does not give dies
 * naming itself, so "changes nothing else" is checked by leaving the writes out. The same step
 * against PostgreSQL — a retry after a crash, what is stored — is `Triage.test.ts`.
 */
import { describe, expect, it } from "@effect/vitest"
import { LlmMalformedOutput, LlmUnavailable } from "@nestfleet/ai/Llm"
import * as ScriptedProvider from "@nestfleet/ai/testing/ScriptedProvider"
import * as TriageTask from "@nestfleet/ai/TriageTask"
import { CaseRow, CasesRepo, MessageRow, TriageRow } from "@nestfleet/db/CasesRepo"
import { ProductRow, ProductsRepo } from "@nestfleet/db/ProductsRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { CaseId, type CaseStatus, type CaseType, MessageId, type Severity } from "@nestfleet/domain/Cases"
import { ChannelId } from "@nestfleet/domain/Channels"
import { ProductId, ProductSettings } from "@nestfleet/domain/Products"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Effect, Layer, Option } from "effect"
import { Triage } from "../src/Triage.js"

const caseId = CaseId.make("0b6f3c52-64a8-4c43-9a53-3b1f0f5d2a10")
const productId = ProductId.make("5f0f4a1e-8d3b-4b7e-a6f2-0c9d8e7f6a51")
const at = new Date("2025-01-01T00:00:00Z")

const aCase = (fields: { status: CaseStatus; type?: CaseType | null; severity?: Severity | null }) =>
  new CaseRow({
    id: caseId,
    number: 1,
    productId,
    channelId: ChannelId.make("9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d"),
    threadKey: "thread-1",
    subject: "Checkout crashes",
    assigneeId: null,
    customer: {},
    createdAt: at,
    updatedAt: at,
    createdAtKey: at.toISOString(),
    type: null,
    severity: null,
    ...fields
  })

const message = (kind: "inbound" | "outbound" | "note", body: string) =>
  new MessageRow({
    id: MessageId.make("3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b0a"),
    caseId,
    kind,
    externalId: null,
    author: {},
    authorUserId: null,
    body,
    html: null,
    metadata: {},
    draftId: null,
    draftVersion: null,
    deliveryState: null,
    deliveryError: null,
    deliveredAt: null,
    createdAt: at
  })

const product = (triageMinConfidence: number) =>
  new ProductRow({
    id: productId,
    name: "Shop",
    slug: "shop",
    settings: new ProductSettings({ ...ProductSettings.defaults, triageMinConfidence }),
    createdAt: at,
    updatedAt: at
  })

/** What the model answers, as JSON: a bug of high severity, 0.9 sure, unless `fields` say otherwise. */
const verdict = (fields: Partial<typeof TriageTask.TriageOutput.Encoded> = {}) =>
  ScriptedProvider.answer(TriageTask.triage, {
    type: "bug",
    severity: "high",
    confidence: 0.9,
    summary: "Bug report: Checkout crashes",
    reasoning: [{ step: "Type: bug", detail: "Evidence from \"crashes\"", evidence: ["crashes"] }],
    ...fields
  })

const storedResult = new TriageRow({
  id: "1",
  caseId,
  jobId: "job-1",
  type: "bug",
  severity: "high",
  confidence: 0.9,
  summary: "Bug report: Checkout crashes",
  reasoning: [],
  provider: ScriptedProvider.name,
  model: ScriptedProvider.model,
  createdAt: at
})

type Update = Parameters<CasesRepo["update"]>[0]
type Event = Parameters<CasesRepo["insertEvent"]>[0]

/**
 * A case store that reads `current` and records the writes: the triage result is new (this job
 * has not stored one), and the case's update and event land in `updates` and `events`.
 */
const recording = (current: CaseRow) => {
  const updates: Array<Update> = []
  const events: Array<Event> = []
  const repo: Partial<CasesRepo> = {
    findById: () => Effect.succeed(Option.some(current)),
    messagesOf: () => Effect.succeed([message("inbound", "Every time I pay, the app crashes.")]),
    lock: () => Effect.succeed(Option.some(current)),
    insertTriage: () => Effect.succeed(Option.some(storedResult)),
    update: (fields) => Effect.sync(() => (updates.push(fields), Option.some(current))),
    insertEvent: (event) => Effect.sync(() => void events.push(event))
  }
  return { repo, updates, events }
}

/** Triage over `cases`, a product with `threshold`, and a model answering `script`. */
const triageOver = (cases: Partial<CasesRepo>, script: ReadonlyArray<ScriptedProvider.Step>, threshold = 0.6) =>
  Triage.DefaultWithoutDependencies.pipe(
    Layer.provideMerge(ScriptedProvider.layer(script)),
    Layer.provide(Layer.mergeAll(
      makeTestLayer(CasesRepo)(cases),
      makeTestLayer(ProductsRepo)({ findById: () => Effect.succeed(Option.some(product(threshold))) }),
      makeTestLayer(JobQueue)({ send: () => Effect.succeed(Option.none()) }),
      Transactions.Passthrough
    ))
  )

const run = (reason: "new_case" | "retriage") => Effect.flatMap(Triage, (triage) => triage.run(caseId, "job-1", reason))

describe("Triage rules", () => {
  it.effect("below the product's confidence threshold a new case needs a person; at or above it, it is triaged", () =>
    Effect.gen(function*() {
      for (
        const [confidence, status] of [[0.59, "needs_attention"], [0.6, "triaged"], [0.61, "triaged"]] as const
      ) {
        const store = recording(aCase({ status: "new" }))
        yield* run("new_case").pipe(Effect.provide(triageOver(store.repo, [verdict({ confidence })], 0.6)))
        expect(store.updates, `confidence ${confidence}`).toEqual([
          { id: caseId, type: "bug", severity: "high", status }
        ])
        expect(store.events, `confidence ${confidence}`).toEqual([{
          caseId,
          kind: "triaged",
          actorUserId: null,
          data: {
            type: "bug",
            severity: "high",
            confidence,
            threshold: 0.6,
            status: { from: "new", to: status },
            reason: "new_case",
            provider: ScriptedProvider.name,
            model: ScriptedProvider.model
          }
        }])
      }
    }))

  it.effect("a new case's triage fills in only what nobody has set", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Pick<CaseRow, "type" | "severity">, Pick<Update, "type" | "severity">]> = [
        [{ type: null, severity: null }, { type: "bug", severity: "high" }],
        [{ type: null, severity: "critical" }, { type: "bug", severity: "critical" }],
        [{ type: "incident", severity: null }, { type: "incident", severity: "high" }],
        [{ type: "incident", severity: "low" }, { type: "incident", severity: "low" }]
      ]
      for (const [set, kept] of cases) {
        const store = recording(aCase({ status: "new", ...set }))
        yield* run("new_case").pipe(Effect.provide(triageOver(store.repo, [verdict()])))
        expect(store.updates, JSON.stringify(set)).toEqual([{ id: caseId, ...kept, status: "triaged" }])
      }
    }))

  it.effect("a new case's triage moves only a case still new", () =>
    Effect.gen(function*() {
      for (const status of ["triaged", "needs_attention"] as const) {
        const store = recording(aCase({ status, type: "question", severity: "low" }))
        yield* run("new_case").pipe(Effect.provide(triageOver(store.repo, [verdict({ confidence: 0.2 })])))
        expect(store.updates, status).toEqual([{ id: caseId, type: "question", severity: "low", status }])
      }
    }))

  it.effect("a retriage replaces type and severity and moves any case not yet past triage", () =>
    Effect.gen(function*() {
      for (const from of ["new", "triaged", "needs_attention"] as const) {
        for (const [confidence, to] of [[0.3, "needs_attention"], [0.9, "triaged"]] as const) {
          const store = recording(aCase({ status: from, type: "question", severity: "low" }))
          yield* run("retriage").pipe(Effect.provide(triageOver(store.repo, [verdict({ confidence })])))
          const label = `${from} at ${confidence}`
          expect(store.updates, label).toEqual([{ id: caseId, type: "bug", severity: "high", status: to }])
          expect(store.events[0]?.data, label).toMatchObject({ status: { from, to }, reason: "retriage" })
        }
      }
    }))

  it.effect("a case past triage keeps its status, whatever the reason", () =>
    Effect.gen(function*() {
      for (const status of ["awaiting_approval", "replied", "resolved", "closed"] as const) {
        for (const reason of ["new_case", "retriage"] as const) {
          const store = recording(aCase({ status, type: "question", severity: "low" }))
          yield* run(reason).pipe(Effect.provide(triageOver(store.repo, [verdict()])))
          const [update] = store.updates
          expect(update?.status, `${status} on ${reason}`).toBe(status)
          // Type and severity follow the reason's rule as for any other case.
          expect(update?.type, `${status} on ${reason}`).toBe(reason === "retriage" ? "bug" : "question")
        }
      }
    }))

  it.effect("a job that already stored its result changes nothing else", () => {
    // No update and no insertEvent: calling either would die, naming it.
    const { repo } = recording(aCase({ status: "new" }))
    const { insertEvent: _insertEvent, update: _update, ...reads } = repo
    return Effect.gen(function*() {
      yield* run("retriage")
      expect((yield* ScriptedProvider.requests).map((request) => request.task)).toEqual(["triage"])
    }).pipe(Effect.provide(triageOver({ ...reads, insertTriage: () => Effect.succeed(Option.none()) }, [verdict()])))
  })

  it.effect("a malformed or missing answer is a typed failure before anything is written, so the job retries it", () =>
    Effect.gen(function*() {
      // No lock, insertTriage, update or insertEvent: the failure comes before the transaction.
      const { repo } = recording(aCase({ status: "new" }))
      const reads = { findById: repo.findById!, messagesOf: repo.messagesOf! }
      for (
        const [step, failure] of [
          [ScriptedProvider.text(TriageTask.triage, "Sure! It is a bug."), LlmMalformedOutput],
          [ScriptedProvider.text(TriageTask.triage, JSON.stringify({ type: "bug" })), LlmMalformedOutput],
          [verdict({ confidence: 1.4 }), LlmMalformedOutput],
          [ScriptedProvider.unavailable(TriageTask.triage, "rate limited"), LlmUnavailable]
        ] as const
      ) {
        const error = yield* Effect.flip(run("new_case")).pipe(Effect.provide(triageOver(reads, [step])))
        expect(error).toBeInstanceOf(failure)
      }
    }))

  it.effect("asks the model about the subject and the customer's messages only, oldest first", () =>
    Effect.gen(function*() {
      const store = recording(aCase({ status: "new" }))
      const repo: Partial<CasesRepo> = {
        ...store.repo,
        messagesOf: () =>
          Effect.succeed([
            message("inbound", "The app crashes when I pay."),
            message("note", "Internal: looks like the payment provider."),
            message("outbound", "Sorry to hear that, we are looking."),
            message("inbound", "It still crashes.")
          ])
      }
      const asked = yield* Effect.zipRight(run("new_case"), ScriptedProvider.requests).pipe(
        Effect.provide(triageOver(repo, [verdict()]))
      )
      expect(asked.map((request) => request.task)).toEqual(["triage"])
      expect(JSON.parse(asked[0]!.input)).toEqual({
        subject: "Checkout crashes",
        body: "The app crashes when I pay.\n\nIt still crashes."
      })
    }))

  it.effect("a case that is gone is not triaged: the model is not asked", () =>
    Effect.gen(function*() {
      yield* run("new_case")
      expect(yield* ScriptedProvider.requests).toEqual([])
    }).pipe(Effect.provide(triageOver({ findById: () => Effect.succeed(Option.none()) }, []))))
})
