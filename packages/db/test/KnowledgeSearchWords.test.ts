/**
 * The word half of `KnowledgeRepo.searchPassages` on a real database: Okapi BM25 over the
 * query's first `maxQueryWords` lexemes, with the product's statistics (migration 009) kept by
 * triggers as passages come and go.
 */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import type { ProductId } from "@nestfleet/domain/Products"
import { ProductSettings } from "@nestfleet/domain/Products"
import { Effect, Layer } from "effect"
import { bm25, KnowledgeRepo, maxQueryWords, selectionBudget } from "../src/KnowledgeRepo.js"
import { ProductsRepo } from "../src/ProductsRepo.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"

const TestLayer = Layer.mergeAll(KnowledgeRepo.Default, ProductsRepo.Default).pipe(Layer.provideMerge(TestDatabase.layer))

let products = 0
const newProduct = Effect.gen(function*() {
  const n = ++products
  const product = yield* Effect.flatMap(ProductsRepo, (repo) =>
    repo.insert({ name: `Words ${n}`, slug: `words-${n}`, settings: ProductSettings.defaults }))
  return product.id
})

/** An article of the product cut into passages (`heading` each), published unless said; answers its id. */
const articleWith = (
  productId: ProductId,
  passages: ReadonlyArray<string>,
  options: { readonly heading?: string; readonly status?: "published" | "draft" } = {}
) =>
  Effect.gen(function*() {
    const repo = yield* KnowledgeRepo
    const heading = options.heading ?? "Reports"
    const article = yield* repo.insert({
      productId,
      title: heading,
      body: passages.join("\n\n"),
      url: null,
      tags: [],
      status: options.status ?? "published",
      sourcePath: null,
      createdBy: null
    })
    yield* repo.replaceChunks(article.id, passages.map((text, ordinal) => ({ ordinal, heading, text })))
    return article.id
  })

const productWith = (passages: ReadonlyArray<string>) =>
  Effect.tap(newProduct, (productId) => articleWith(productId, passages))

const search = (productId: ProductId, text: string, emphasis?: string) =>
  Effect.flatMap(KnowledgeRepo, (repo) =>
    Effect.map(
      repo.searchPassages({ productId, text, emphasis, vector: null, candidates: 50 }),
      (hits) => hits.map((hit) => ({ text: hit.text, words: hit.words }))
    ))

const found = (productId: ProductId, text: string, emphasis?: string) =>
  Effect.map(search(productId, text, emphasis), (hits) => hits.map((hit) => hit.text))

const statistics = (productId: ProductId) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const lexemes = yield* sql<{ lexeme: string; passages: number }>`
      select lexeme, passages from passage_lexemes where product_id = ${productId} and passages > 0 order by lexeme`
    const totals = yield* sql<{ passages: string; totalLength: string }>`
      select passages, total_length from passage_totals where product_id = ${productId}`
    return {
      lexemes: Object.fromEntries(lexemes.map((row) => [row.lexeme, row.passages])),
      passages: Number(totals[0]?.passages ?? 0),
      totalLength: Number(totals[0]?.totalLength ?? 0)
    }
  })

const idf = (passages: number, holding: number) => Math.log(1 + (passages - holding + 0.5) / (holding + 0.5))

/** BM25 of one query word in a passage, as the statement computes it. */
const bm25Term = (input: { tf: number; length: number; averageLength: number; passages: number; holding: number }) =>
  idf(input.passages, input.holding) * input.tf * (bm25.k1 + 1) /
  (input.tf + bm25.k1 * (1 - bm25.b + bm25.b * input.length / input.averageLength))

/** The most a query's words could score: each word's weight times its idf, times k1 + 1. */
const ceiling = (words: ReadonlyArray<{ weight: number; passages: number; holding: number }>) =>
  words.reduce((total, word) => total + word.weight * idf(word.passages, word.holding), 0) * (bm25.k1 + 1)

layer(TestLayer, { excludeTestServices: true, timeout: 120_000 })("KnowledgeRepo.searchPassages: words", (it) => {
  it.effect("any of the query's words finds a passage; stop words alone find nothing", () =>
    Effect.gen(function*() {
      const productId = yield* productWith(["Export the quarterly invoice as CSV.", "Print the invoice.", "Share a dashboard."])
      expect(new Set(yield* found(productId, "How do I export an invoice?"))).toEqual(
        new Set(["Export the quarterly invoice as CSV.", "Print the invoice."])
      )
      expect(yield* found(productId, "the of and")).toEqual([])
      expect(yield* found(productId, "C:\\exports\\report.csv won't open")).toEqual(["Export the quarterly invoice as CSV."])
    }))

  it.effect("scores are Okapi BM25 with the product's word counts and average length, over the query's most", () =>
    Effect.gen(function*() {
      // Heading "Reports" (3 heading words of weight 3 → "report" tf 3 in each passage).
      const productId = yield* productWith([
        "The widget renders a chart.", // widget, render, chart → length 3 + 3
        "The widget renders a chart and the widget exports it.", // widget ×2, render, chart, export → 5 + 3
        "Gadgets only." // gadget, → 1 + 3
      ])
      const stats = yield* statistics(productId)
      expect(stats.passages).toBe(3)
      expect(stats.totalLength).toBe(6 + 8 + 4)
      expect(stats.lexemes).toMatchObject({ widget: 2, chart: 2, gadget: 1, report: 3 })

      const hits = yield* search(productId, "widget")
      const averageLength = 18 / 3
      expect(hits.map((hit) => hit.text)).toEqual([
        "The widget renders a chart and the widget exports it.",
        "The widget renders a chart."
      ])
      const most = ceiling([{ weight: 1, passages: 3, holding: 2 }])
      expect(hits[0]!.words).toBeCloseTo(bm25Term({ tf: 2, length: 8, averageLength, passages: 3, holding: 2 }) / most, 6)
      expect(hits[1]!.words).toBeCloseTo(bm25Term({ tf: 1, length: 6, averageLength, passages: 3, holding: 2 }) / most, 6)

      // A word in every passage weighs little, a heading word counts three times.
      const reports = yield* search(productId, "report")
      expect(reports[0]!.text).toBe("Gadgets only.")
      expect(reports[0]!.words).toBeCloseTo(
        bm25Term({ tf: 3, length: 4, averageLength, passages: 3, holding: 3 }) / ceiling([{ weight: 1, passages: 3, holding: 3 }]),
        6
      )
    }))

  it.effect("a rarer word outweighs a commoner one, and the subject's words count twice", () =>
    Effect.gen(function*() {
      const productId = yield* productWith([
        "Billing runs nightly.",
        "Billing exports a ledger.",
        "Billing sends receipts.",
        "Webhooks retry failed deliveries."
      ])
      const [first] = yield* found(productId, "billing webhooks")
      expect(first).toBe("Webhooks retry failed deliveries.")
      const plain = yield* search(productId, "ledger retry")
      expect(plain[0]!.text).toBe("Billing exports a ledger.") // as rare a word, in a shorter passage
      const emphasised = yield* search(productId, "ledger retry", "retry")
      expect(emphasised[0]!.text).toBe("Webhooks retry failed deliveries.")
      // Its score doubles, over a ceiling that grows from 2 to 3 equally rare words' worth.
      expect(emphasised[0]!.words).toBeCloseTo((2 * 2 / 3) * plain.find((hit) => hit.text.startsWith("Webhooks"))!.words, 6)
    }))

  it.effect(`only the query's first ${maxQueryWords} words count`, () =>
    Effect.gen(function*() {
      const productId = yield* productWith(["The dashboard is shared.", "The widget is blue."])
      const filler = Array.from({ length: maxQueryWords - 1 }, (_, i) => `filler${i}`).join(" ")
      expect(yield* found(productId, `dashboard ${filler}`)).toEqual(["The dashboard is shared."])
      expect(yield* found(productId, `dashboard ${filler} widget`)).toEqual(["The dashboard is shared."])
      expect(yield* found(productId, `${filler} widget`)).toEqual(["The widget is blue."])
    }))

  it.effect("drafts are not searched; a search stays in its product", () =>
    Effect.gen(function*() {
      const productId = yield* productWith(["Published passage about rotors."])
      yield* articleWith(productId, ["Draft passage about rotors."], { status: "draft" })
      const other = yield* productWith(["Another product's rotors."])
      expect(yield* found(productId, "rotors")).toEqual(["Published passage about rotors."])
      expect(yield* found(other, "rotors")).toEqual(["Another product's rotors."])
    }))

  it.effect(`a word in more than ${selectionBudget} passages selects nothing alone, yet counts where other words select`, () =>
    Effect.gen(function*() {
      const productId = yield* productWith([
        ...Array.from({ length: selectionBudget + 1 }, (_, i) => `Passage ${i} mentions the sprocket.`),
        "A sprocket and a flange."
      ])
      expect(yield* found(productId, "sprocket")).toEqual([])
      const hits = yield* search(productId, "sprocket flange")
      expect(hits.map((hit) => hit.text)).toEqual(["A sprocket and a flange."])
      // 1002 passages: 1001 of "passag", a number, "mention", "sprocket" and the heading's "report"
      // three times; one of "sprocket", "flang" and the heading.
      const passages = selectionBudget + 2
      const averageLength = ((passages - 1) * 7 + 5) / passages
      const expected = (bm25Term({ tf: 1, length: 5, averageLength, passages, holding: passages }) +
        bm25Term({ tf: 1, length: 5, averageLength, passages, holding: 1 })) /
        ceiling([{ weight: 1, passages, holding: passages }, { weight: 1, passages, holding: 1 }])
      expect(hits[0]!.words).toBeCloseTo(expected, 6)
    }))

  it.effect(`words select passages rarest first while those holding them add up to at most ${selectionBudget}`, () =>
    Effect.gen(function*() {
      const productId = yield* productWith([
        ...Array.from({ length: 400 }, (_, i) => `Alpha note ${i}.`),
        ...Array.from({ length: 450 }, (_, i) => `Beta note ${i}.`),
        ...Array.from({ length: 500 }, (_, i) => `Gamma note ${i}.`),
        "Alpha and gamma together."
      ])
      // Alpha (401 passages) and beta (450) select; gamma's 501 more would pass the budget.
      const texts = yield* found(productId, "gamma beta alpha")
      expect(texts[0]).toBe("Alpha and gamma together.") // selected by alpha, scored by both
      expect(texts.some((text) => text.startsWith("Gamma note"))).toBe(false)
      // Alone, gamma is within the budget.
      expect((yield* found(productId, "gamma"))[0]).toMatch(/^Gamma note|^Alpha and gamma/)
    }))

  it.effect("articles of one product rewritten at once, in their own transactions, leave the statistics a recount finds", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const repo = yield* KnowledgeRepo
      const productId = yield* newProduct
      const words = ["anchor", "bolt", "clamp", "dowel", "eyelet", "flange", "gasket", "hinge"]
      const articles = yield* Effect.forEach(words, (word) => articleWith(productId, [`${word} and bolt`, `clamp ${word}`]))
      // Each article gets new passages sharing most words with the others, all at once; two are deleted.
      yield* Effect.forEach(articles, (id, i) =>
        sql.withTransaction(
          i % 4 === 3
            ? Effect.asVoid(repo.remove(id))
            : Effect.asVoid(repo.replaceChunks(id, [0, 1, 2].map((ordinal) => ({
              ordinal,
              heading: words[(i + ordinal) % words.length]!,
              text: `${words.slice(0, i + 1).join(" ")} ${ordinal}`
            }))))
        ), { concurrency: "unbounded", discard: true })
      const recount = yield* sql<{ lexeme: string; passages: number }>`
        select l.lexeme, count(*)::int as passages
        from article_chunks c, unnest(tsvector_to_array(c.search)) as l (lexeme)
        where c.product_id = ${productId} group by l.lexeme order by l.lexeme`
      const totals = yield* sql<{ passages: string; totalLength: string }>`
        select count(*) as passages, coalesce(sum(search_length), 0) as total_length
        from article_chunks where product_id = ${productId}`
      expect(yield* statistics(productId)).toEqual({
        lexemes: Object.fromEntries(recount.map((row) => [row.lexeme, row.passages])),
        passages: Number(totals[0]!.passages),
        totalLength: Number(totals[0]!.totalLength)
      })
      expect(Number(totals[0]!.passages)).toBe(6 * 3)
    }))

  it.effect("the statistics follow passages replaced, articles deleted and products deleted; a passage's words cannot change", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const repo = yield* KnowledgeRepo
      const productId = yield* newProduct
      const first = yield* articleWith(productId, ["Alpha beta.", "Beta gamma."], { heading: "One" })
      const second = yield* articleWith(productId, ["Gamma delta."], { heading: "Two" })
      expect(yield* statistics(productId)).toEqual({
        lexemes: { alpha: 1, beta: 2, gamma: 2, delta: 1, one: 2, two: 1 },
        passages: 3,
        totalLength: (2 + 3) + (2 + 3) + (2 + 3)
      })

      yield* repo.replaceChunks(first, [{ ordinal: 0, heading: "One", text: "Epsilon." }])
      expect(yield* statistics(productId)).toEqual({
        lexemes: { epsilon: 1, gamma: 1, delta: 1, one: 1, two: 1 },
        passages: 2,
        totalLength: (1 + 3) + (2 + 3)
      })

      yield* repo.remove(second)
      expect(yield* statistics(productId)).toEqual({ lexemes: { epsilon: 1, one: 1 }, passages: 1, totalLength: 4 })

      const refused = yield* Effect.either(sql`update article_chunks set search = to_tsvector('english', 'zeta') where article_id = ${first}`)
      expect(refused._tag).toBe("Left")

      yield* sql`delete from articles where product_id = ${productId}`
      yield* sql`delete from products where id = ${productId}`
      const left = yield* sql<{ n: string }>`
        select (select count(*) from passage_lexemes where product_id = ${productId})
             + (select count(*) from passage_totals where product_id = ${productId}) as n`
      expect(Number(left[0]!.n)).toBe(0)
    }))
})
