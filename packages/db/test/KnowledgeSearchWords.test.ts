/**
 * The lexical half of `KnowledgeRepo.searchPassages` on a real database: any of the query's
 * first `maxQueryWords` words, less the common ones it is handed; `commonLexemes` reads them
 * from the planner's statistics, and a small knowledge base has none.
 */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { ProductSettings } from "@nestfleet/domain/Products"
import { Effect, Layer } from "effect"
import { KnowledgeRepo, maxQueryWords } from "../src/KnowledgeRepo.js"
import { ProductsRepo } from "../src/ProductsRepo.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"

const TestLayer = Layer.mergeAll(KnowledgeRepo.Default, ProductsRepo.Default).pipe(Layer.provideMerge(TestDatabase.layer))

let products = 0
/** A product with one published article cut into `passages`; answers the product's id. */
const productWith = (passages: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const n = ++products
    const product = yield* Effect.flatMap(ProductsRepo, (repo) =>
      repo.insert({ name: `Words ${n}`, slug: `words-${n}`, settings: ProductSettings.defaults }))
    const repo = yield* KnowledgeRepo
    const article = yield* repo.insert({
      productId: product.id,
      title: "Reports",
      body: passages.join("\n\n"),
      url: null,
      tags: [],
      status: "published",
      sourcePath: null,
      createdBy: null
    })
    yield* repo.replaceChunks(article.id, passages.map((text, ordinal) => ({ ordinal, heading: "Reports", text })))
    return product.id
  })

const found = (productId: Parameters<KnowledgeRepo["searchPassages"]>[0]["productId"], text: string, commonWords?: Array<string>) =>
  Effect.flatMap(KnowledgeRepo, (repo) =>
    Effect.map(repo.searchPassages({ productId, text, vector: null, candidates: 50, commonWords }), (hits) =>
      hits.map((hit) => hit.text)))

layer(TestLayer, { excludeTestServices: true, timeout: 60_000 })("KnowledgeRepo.searchPassages: words", (it) => {
  it.effect("any of the query's words; the common ones it is handed left out; none left, nothing found", () =>
    Effect.gen(function*() {
      const productId = yield* productWith(["Export the quarterly invoice as CSV.", "Print the invoice.", "Share a dashboard."])
      expect(yield* found(productId, "How do I export an invoice?")).toEqual([
        "Export the quarterly invoice as CSV.",
        "Print the invoice."
      ])
      expect(yield* found(productId, "How do I export an invoice?", ["invoic"])).toEqual(["Export the quarterly invoice as CSV."])
      expect(yield* found(productId, "the invoice", ["invoic"])).toEqual([])
      expect(yield* found(productId, "the of and")).toEqual([]) // stop words only
      expect(yield* found(productId, "C:\\exports\\report.csv won't open")).toEqual(["Export the quarterly invoice as CSV."])
    }))

  it.effect(`only the query's first ${maxQueryWords} words count`, () =>
    Effect.gen(function*() {
      const productId = yield* productWith(["The dashboard is shared.", "The widget is blue."])
      const filler = Array.from({ length: maxQueryWords }, (_, i) => `filler${i}`).join(" ")
      expect(yield* found(productId, `dashboard ${filler}`)).toEqual(["The dashboard is shared."])
      expect(yield* found(productId, `${filler} widget`)).toEqual([])
      // A common word does not use up a place.
      expect(yield* found(productId, `${filler} widget`, ["filler0"])).toEqual(["The widget is blue."])
    }))

  it.effect("common lexemes come from the planner's statistics, by the number of passages holding them", () =>
    Effect.gen(function*() {
      const repo = yield* KnowledgeRepo
      const sql = yield* SqlClient.SqlClient
      yield* productWith(Array.from({ length: 60 }, (_, i) => `Passage ${i} about the gadget${i % 7 === 0 ? " and the widget" : ""}.`))
      yield* sql`analyze article_chunks`
      const common = yield* repo.commonLexemes(20)
      expect(common).toContain("gadget")
      expect(common).not.toContain("widget") // in 9 of them
      expect(yield* repo.commonLexemes(1000)).toEqual([])
    }))
})
