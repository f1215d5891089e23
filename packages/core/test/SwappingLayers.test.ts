/**
 * The README's "Swapping layers" example, runnable: Triage with no database and no model —
 * a partial `CasesRepo` and `ProductsRepo`, transactions that pass through, and a scripted
 * model. `packages/core/test/TriageRules.test.ts` has the full set of rules this way.
 */
import { expect, it } from "@effect/vitest"
import * as ScriptedProvider from "@nestfleet/ai/testing/ScriptedProvider"
import * as TriageTask from "@nestfleet/ai/TriageTask"
import { CaseRow, CasesRepo, TriageRow } from "@nestfleet/db/CasesRepo"
import { ProductRow, ProductsRepo } from "@nestfleet/db/ProductsRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { CaseId } from "@nestfleet/domain/Cases"
import { ChannelId } from "@nestfleet/domain/Channels"
import { ProductId, ProductSettings } from "@nestfleet/domain/Products"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Effect, Layer, Option } from "effect"
import { Triage } from "../src/Triage.js"

const at = new Date("2025-01-01T00:00:00Z")
const productId = ProductId.make("5f0f4a1e-8d3b-4b7e-a6f2-0c9d8e7f6a51")
const newCase = new CaseRow({
  id: CaseId.make("0b6f3c52-64a8-4c43-9a53-3b1f0f5d2a10"),
  number: 1,
  productId,
  channelId: ChannelId.make("9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d"),
  threadKey: "thread-1",
  subject: "Checkout crashes",
  status: "new",
  type: null,
  severity: null,
  assigneeId: null,
  customer: {},
  createdAt: at,
  updatedAt: at,
  createdAtKey: at.toISOString()
})
const product = new ProductRow({
  id: productId,
  name: "Shop",
  slug: "shop",
  settings: new ProductSettings({ ...ProductSettings.defaults, triageMinConfidence: 0.6 }),
  createdAt: at,
  updatedAt: at
})

it.effect("a model unsure of its triage (0.4 < 0.6) puts a new case in front of a person", () => {
  const updates: Array<Parameters<CasesRepo["update"]>[0]> = []
  // Only what Triage is expected to use; any other repository member dies, naming itself.
  const cases = makeTestLayer(CasesRepo)({
    findById: () => Effect.succeed(Option.some(newCase)),
    messagesOf: () => Effect.succeed([]),
    lock: () => Effect.succeed(Option.some(newCase)),
    insertTriage: (triage) => Effect.succeed(Option.some(new TriageRow({ ...triage, reasoning: [], id: "1", createdAt: at }))),
    update: (changes) => Effect.sync(() => (updates.push(changes), Option.some(newCase))),
    insertEvent: () => Effect.void
  })
  const products = makeTestLayer(ProductsRepo)({ findById: () => Effect.succeed(Option.some(product)) })
  // Triage sends the known-issue match in its transaction; here nothing is queued.
  const queue = makeTestLayer(JobQueue)({ send: () => Effect.succeed(Option.none()) })
  const model = ScriptedProvider.layer([
    ScriptedProvider.answer(TriageTask.triage, {
      type: "bug",
      severity: "high",
      confidence: 0.4,
      summary: "Bug report: Checkout crashes",
      reasoning: [{ step: "Type: bug", detail: "\"crashes\" in the subject", evidence: ["crashes"] }]
    })
  ])
  const TriageOverDoubles = Triage.DefaultWithoutDependencies.pipe(
    Layer.provide([cases, products, model, queue, Transactions.Passthrough])
  )

  return Effect.gen(function*() {
    const triage = yield* Triage
    yield* triage.run(newCase.id, "job-1", "new_case")
    expect(updates).toEqual([{ id: newCase.id, type: "bug", severity: "high", status: "needs_attention" }])
  }).pipe(Effect.provide(TriageOverDoubles))
})
