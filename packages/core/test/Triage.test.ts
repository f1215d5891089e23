/**
 * The triage step against a real database: it stores one result per job and acts on the
 * product's threshold; a retry of the same job — after a crash anywhere — adds nothing.
 */
import { expect, layer } from "@effect/vitest"
import * as BuiltinProvider from "@nestfleet/ai/BuiltinProvider"
import { Llm, LlmMalformedOutput } from "@nestfleet/ai/Llm"
import * as ScriptedProvider from "@nestfleet/ai/testing/ScriptedProvider"
import * as TriageTask from "@nestfleet/ai/TriageTask"
import { CasesRepo } from "@nestfleet/db/CasesRepo"
import { ChannelsRepo } from "@nestfleet/db/ChannelsRepo"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Transactions } from "@nestfleet/db/Transactions"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { ProductSettings } from "@nestfleet/domain/Products"
import { Effect, Layer } from "effect"
import { Triage } from "../src/Triage.js"

const TestLayer = Triage.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(CasesRepo.Default, ProductsRepo.Default, ChannelsRepo.Default)),
  Layer.provide(Llm.layerWith(BuiltinProvider.provider)),
  Layer.provideMerge(JobQueue.SendOnly),
  Layer.provideMerge(TestDatabase.layer)
)

/** Triage over this file's database, with a model answering `script` instead of the builtin one. */
const scriptedTriage = (script: ReadonlyArray<ScriptedProvider.Step>) =>
  Triage.DefaultWithoutDependencies.pipe(
    Layer.provideMerge(ScriptedProvider.layer(script)),
    Layer.provide(Transactions.Default)
  )

let cases = 0
const newCase = (subject: string, body: string, triageMinConfidence = 0.6) =>
  Effect.gen(function*() {
    const products = yield* ProductsRepo
    const channels = yield* ChannelsRepo
    const repo = yield* CasesRepo
    const n = ++cases
    const product = yield* products.insert({
      name: `P${n}`,
      slug: `p-${n}`,
      settings: new ProductSettings({ ...ProductSettings.defaults, triageMinConfidence })
    })
    const channel = yield* channels.insert({ productId: product.id, type: "webhook", name: "c", config: {}, secret: "nfs0.eA" })
    const row = yield* Effect.flatten(
      repo.insertCase({ productId: product.id, channelId: channel.id, threadKey: `t${n}`, subject, customer: {} })
    )
    yield* repo.insertMessage({
      caseId: row.id,
      kind: "inbound",
      externalId: null,
      author: {},
      authorUserId: null,
      body,
      html: null,
      metadata: {}
    })
    return row.id
  })

layer(TestLayer, { timeout: 60_000 })("triage", (it) => {
  it.effect("stores the result, moves the case and records one event; the same job again adds nothing", () =>
    Effect.gen(function*() {
      const triage = yield* Triage
      const repo = yield* CasesRepo
      const caseId = yield* newCase("Checkout crashes with an error", "Every time I pay, the app crashes. Steps to reproduce: …")
      yield* triage.run(caseId, "job-1", "new_case")
      yield* triage.run(caseId, "job-1", "new_case")
      const row = yield* Effect.flatten(repo.findById(caseId))
      expect(row).toMatchObject({ type: "bug", status: "triaged" })
      const events = yield* repo.eventsOf(caseId)
      expect(events.filter((event) => event.kind === "triaged")).toHaveLength(1)
      const latest = yield* Effect.flatten(repo.latestTriage(caseId))
      expect(latest).toMatchObject({ jobId: "job-1", type: "bug", provider: "builtin", model: BuiltinProvider.model })

      // Another job — a retriage — is another result.
      yield* triage.run(caseId, "job-2", "retriage")
      expect((yield* repo.eventsOf(caseId)).filter((event) => event.kind === "triaged")).toHaveLength(2)
    }))

  it.effect("below the product's threshold the case needs a person", () =>
    Effect.gen(function*() {
      const triage = yield* Triage
      const repo = yield* CasesRepo
      const caseId = yield* newCase("hello", "quick thing", 0.6)
      yield* triage.run(caseId, "job-vague", "new_case")
      const row = yield* Effect.flatten(repo.findById(caseId))
      expect(row.status).toBe("needs_attention")
      const latest = yield* Effect.flatten(repo.latestTriage(caseId))
      expect(latest.confidence).toBeLessThan(0.6)
    }))

  it.effect("a malformed answer is a typed failure that leaves the case as it was, for the retry", () =>
    Effect.gen(function*() {
      const triage = yield* Triage
      const repo = yield* CasesRepo
      const caseId = yield* newCase("Refund please", "I was charged twice for my subscription")
      const failure = yield* Effect.flip(triage.run(caseId, "job-garbage", "new_case"))
      expect(failure).toBeInstanceOf(LlmMalformedOutput)
      expect((yield* Effect.flatten(repo.findById(caseId))).status).toBe("new")
      expect((yield* repo.eventsOf(caseId)).length).toBe(0)
      // The retry of that job asks again, succeeds and stores one result.
      yield* triage.run(caseId, "job-garbage", "new_case")
      expect((yield* ScriptedProvider.requests).map((request) => request.task)).toEqual(["triage", "triage"])
      expect(yield* Effect.flatten(repo.findById(caseId))).toMatchObject({ type: "billing", status: "triaged" })
      expect((yield* repo.eventsOf(caseId)).filter((event) => event.kind === "triaged")).toHaveLength(1)
    }).pipe(Effect.provide(scriptedTriage([
      ScriptedProvider.text(TriageTask.triage, JSON.stringify({ type: "bug" })),
      ScriptedProvider.answer(TriageTask.triage, {
        type: "billing",
        severity: "high",
        confidence: 0.9,
        summary: "Billing issue: Refund please",
        reasoning: [{ step: "Type: billing", detail: "Evidence from \"charged twice\"", evidence: ["charged twice"] }]
      })
    ]))))

  it.effect("a new case's triage keeps what a person already decided; a retriage replaces type and severity", () =>
    Effect.gen(function*() {
      const triage = yield* Triage
      const repo = yield* CasesRepo
      const caseId = yield* newCase("Checkout crashes", "The app crashes with an error when I pay")
      // An agent got there first, while the job was waiting for its retry.
      yield* repo.update({ id: caseId, severity: "critical", status: "needs_attention" })
      yield* triage.run(caseId, "job-late", "new_case")
      expect(yield* Effect.flatten(repo.findById(caseId))).toMatchObject({
        type: "bug",
        severity: "critical",
        status: "needs_attention"
      })
      yield* triage.run(caseId, "job-again", "retriage")
      const after = yield* Effect.flatten(repo.findById(caseId))
      expect(after.severity).not.toBe("critical")
      expect(after.status).toBe("triaged")
    }))

  it.effect("a case a person has moved on (resolved) keeps its status; type and severity are updated", () =>
    Effect.gen(function*() {
      const triage = yield* Triage
      const repo = yield* CasesRepo
      const caseId = yield* newCase("Dark mode please", "It would be great to have a dark mode option")
      yield* repo.update({ id: caseId, status: "resolved" })
      yield* triage.run(caseId, "job-resolved", "retriage")
      expect(yield* Effect.flatten(repo.findById(caseId))).toMatchObject({ status: "resolved", type: "feature_request" })
    }))
})
