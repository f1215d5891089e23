/**
 * Compares retrieval methods on the real-question dataset: for each question, rank its
 * product's articles (chunked; an article scores as its best chunk) and report recall@1,
 * recall@5 and MRR for
 *   hashed — the builtin provider's former feature-hashing embedding
 *   bm25   — lexical full-text baseline
 *   use    — Universal Sentence Encoder lite (BuiltinEmbeddings)
 *   rrf    — reciprocal-rank fusion of use and bm25 (k = 60), what the product's hybrid search does
 *   rrf-hashed — the same fusion over the hashed embedding: the hybrid search as it was, so
 *            the choice of embedding is judged where it is used, next to full-text search
 *
 * Usage: pnpm exec tsx eval/tools/compare-embeddings.ts [--split dev|heldout] [--verbose]
 *        pnpm exec tsx eval/tools/compare-embeddings.ts --embed-only [--products a,b] [--leads] [--production] [--shard i/n]
 *          (fills the vector cache, measures nothing; two shards can run side by side)
 *        pnpm exec tsx eval/tools/compare-embeddings.ts --recipes --split dev [--only 'name,prefix*'] [--products a,b]
 *          [--embed-queries] [--embed]   (the recipe search: see `recipes` below)
 * Choose on `dev`; `heldout` is for the single final report, never for tuning.
 */
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as BuiltinEmbeddings from "../../packages/ai/src/BuiltinEmbeddings.js"
import { tidy } from "../../packages/core/src/CaseText.js"
import * as Metrics from "../lib/Metrics.js"
import * as Rankers from "../lib/Rankers.js"
import * as Dataset from "../lib/RetrievalDataset.js"

const methods = ["hashed", "bm25", "use", "rrf", "rrf-hashed"] as const
type Method = typeof methods[number]

/**
 * Share of questions with an answer page in the top `k`. The pages an answerer linked are
 * alternatives (often the same topic in the pages- and app-router docs), not a set to collect,
 * so this is not `Metrics.recallAtK`, which averages the share of relevant ids found.
 */
const hitRateAtK = (queries: ReadonlyArray<Metrics.RankedQuery<string>>, k: number) =>
  queries.filter((q) => q.ranked.slice(0, k).some((id) => q.relevant.includes(id))).length / queries.length

const argument = (name: string) => {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}

/**
 * USE-lite vectors for `texts`, cached on disk per text (sha256 of model + text): embedding
 * every chunk takes minutes on two cores, and a variant of the chunking or of the query text
 * should pay only for the texts it changes. The cache is a folder, $NESTFLEET_USE_CACHE
 * (default <tmpdir>/nestfleet-use-cache), of append-only segment pairs, one per process so
 * that two runs never interleave writes: `keys-<pid>.txt` (one key a line) and
 * `vectors-<pid>.f32` (512 float32 per key, same order); progress is saved every 256 texts.
 */
const cacheDir = process.env["NESTFLEET_USE_CACHE"] ?? Path.join(Os.tmpdir(), "nestfleet-use-cache")
const segment = `${process.pid}-${Date.now()}`
const keysFile = Path.join(cacheDir, `keys-${segment}.txt`)
const vectorsFile = Path.join(cacheDir, `vectors-${segment}.f32`)
const textKey = (text: string) => createHash("sha256").update(BuiltinEmbeddings.model).update("\u0000").update(text).digest("hex").slice(0, 24)

const loadCache = (): Map<string, Float32Array> => {
  const cache = new Map<string, Float32Array>()
  if (!Fs.existsSync(cacheDir)) return cache
  const dims = BuiltinEmbeddings.dimensions
  for (const name of Fs.readdirSync(cacheDir)) {
    const match = /^keys(.*)\.txt$/.exec(name)
    const vectorsName = match === null ? "" : `vectors${match[1]}.f32`
    if (match === null || !Fs.existsSync(Path.join(cacheDir, vectorsName))) continue
    const keys = Fs.readFileSync(Path.join(cacheDir, name), "utf8").split("\n").filter((k) => k !== "")
    const buffer = Fs.readFileSync(Path.join(cacheDir, vectorsName))
    const all = new Float32Array(buffer.buffer, buffer.byteOffset, Math.floor(buffer.byteLength / 4))
    const complete = Math.min(keys.length, Math.floor(all.length / dims))
    for (let i = 0; i < complete; i++) cache.set(keys[i]!, all.slice(i * dims, (i + 1) * dims))
  }
  return cache
}

let cache: Map<string, Float32Array> | undefined
let encoder: BuiltinEmbeddings.SentenceEncoder | undefined

const useVectors = async (texts: ReadonlyArray<string>): Promise<Array<Float32Array>> => {
  // --embed-only runs may work side by side (--shard i/n): read what the others saved.
  if (cache === undefined || process.argv.includes("--embed-only")) cache = loadCache()
  const keys = texts.map(textKey)
  const shard = argument("--shard")?.split("/").map(Number)
  const missing = [...new Set(keys.flatMap((key, i) => cache!.has(key) ? [] : [i]).map((i) => texts[i]!))]
    .filter((text) => shard === undefined || parseInt(textKey(text).slice(0, 8), 16) % shard[1]! === shard[0]!)
  if (missing.length > 0) {
    Fs.mkdirSync(cacheDir, { recursive: true })
    encoder ??= await BuiltinEmbeddings.loadUseLite()
    const started = performance.now()
    let pendingKeys: Array<string> = []
    let pendingVectors: Array<Float32Array> = []
    const save = () => {
      if (pendingKeys.length === 0) return
      const all = new Float32Array(pendingVectors.length * BuiltinEmbeddings.dimensions)
      pendingVectors.forEach((vector, i) => all.set(vector, i * BuiltinEmbeddings.dimensions))
      // vectors first: a key without its vector would be dropped on load, never misaligned
      Fs.appendFileSync(vectorsFile, Buffer.from(all.buffer))
      Fs.appendFileSync(keysFile, pendingKeys.map((k) => `${k}\n`).join(""))
      pendingKeys = []
      pendingVectors = []
    }
    for (let start = 0; start < missing.length; start += 8) {
      const batchTexts = missing.slice(start, start + 8).map((text) => text === "" ? " " : text)
      const batch = await encoder.embed(batchTexts)
      batch.forEach((vector, i) => {
        const v = Float32Array.from(BuiltinEmbeddings.normalise(vector))
        const key = textKey(missing[start + i]!)
        cache!.set(key, v)
        pendingKeys.push(key)
        pendingVectors.push(v)
      })
      if (pendingKeys.length >= 256) {
        save()
        process.stderr.write(`  embedded ${start + batchTexts.length}/${missing.length}\n`)
      }
    }
    save()
    const elapsed = performance.now() - started
    process.stderr.write(
      `  embedded ${missing.length} texts in ${(elapsed / 1000).toFixed(1)} s (${(elapsed / missing.length).toFixed(1)} ms each)\n`
    )
  }
  return keys.map((key) => cache!.get(key)!)
}

/** The cached vectors of `texts`, or undefined when any is missing (nothing is embedded). */
const cachedVectors = (texts: ReadonlyArray<string>): Array<Float32Array> | undefined => {
  cache ??= loadCache()
  const vectors = texts.map((text) => cache!.get(textKey(text)))
  return vectors.every((v) => v !== undefined) ? vectors as Array<Float32Array> : undefined
}

const main = async () => {
  if (process.argv.includes("--embed-only")) {
    // Products in the order given by --products (comma-separated; default all, file order),
    // each product's chunks, then its lead pseudo-passages with --leads: a partial cache is
    // then whole for the first products.
    const all = Dataset.articles()
    const order = argument("--products")?.split(",") ?? [...new Set(all.map((a) => a.product))]
    for (const product of order) {
      const articles = all.filter((a) => a.product === product)
      process.stderr.write(`${product}: ${articles.length} articles\n`)
      // --production: the product's chunking (ArticleChunks) and embedding text instead.
      await useVectors(
        process.argv.includes("--production")
          ? articles.flatMap(Dataset.productionPassages).map(Dataset.productionText)
          : articles.flatMap(Dataset.chunk).map((c) => c.text)
      )
      if (process.argv.includes("--leads")) await useVectors(articles.map((a) => Dataset.evalText(Dataset.leadPassage(a))))
    }
    return
  }
  const split = (argument("--split") ?? "dev") as Dataset.Split
  if (split !== "dev" && split !== "heldout") throw new Error("--split is dev or heldout")
  if (process.argv.includes("--recipes")) {
    return runRecipes(split)
  }
  const verbose = process.argv.includes("--verbose")
  const questions = Dataset.questions().filter((q) => q.split === split)
  const products = [...new Set(questions.map((q) => q.product))].sort()
  const articleProduct = new Map(Dataset.articles().map((a) => [a.id, a.product]))
  // Every chunk of the corpus in file order, whatever the split, so the vector cache is shared.
  const allChunks = Dataset.articles().flatMap(Dataset.chunk)
  process.stderr.write(`${questions.length} ${split} questions; ${allChunks.length} chunks in the corpus\n`)
  const allVectors = await useVectors(allChunks.map((c) => c.text))
  const questionVectors = await useVectors(questions.map((q) => q.question))

  const byMethod: Record<Method, Array<Metrics.RankedQuery<string>>> = { hashed: [], bm25: [], use: [], rrf: [], "rrf-hashed": [] }
  const productRanks = new Map<string, Record<Method, Array<Metrics.RankedQuery<string>>>>()
  for (const product of products) {
    const indices = allChunks.flatMap((c, i) => articleProduct.get(c.articleId) === product ? [i] : [])
    const chunks = indices.map((i) => allChunks[i]!)
    const vectors = indices.map((i) => allVectors[i]!)
    const ids = chunks.map((c) => c.articleId)
    const hashed = chunks.map((c) => Rankers.hashEmbedding(c.text))
    const lexical = Rankers.bm25(chunks.map((c) => c.text))
    const perProduct: Record<Method, Array<Metrics.RankedQuery<string>>> = { hashed: [], bm25: [], use: [], rrf: [], "rrf-hashed": [] }
    productRanks.set(product, perProduct)
    questions.forEach((question, qi) => {
      if (question.product !== product) return
      const queryHash = Rankers.hashEmbedding(question.question)
      const rankings: Record<Method, ReadonlyArray<string>> = {
        hashed: Rankers.rankArticles(ids, hashed.map((v) => Rankers.dot(v, queryHash))),
        bm25: Rankers.rankArticles(ids, lexical(question.question)),
        use: Rankers.rankArticles(ids, vectors.map((v) => Rankers.dot(v, questionVectors[qi]!))),
        rrf: [],
        "rrf-hashed": []
      }
      rankings.rrf = Rankers.reciprocalRankFusion([rankings.use, rankings.bm25])
      rankings["rrf-hashed"] = Rankers.reciprocalRankFusion([rankings.hashed, rankings.bm25])
      const line: Array<string> = []
      for (const method of methods) {
        const query = { ranked: rankings[method], relevant: question.answerArticleIds }
        byMethod[method].push(query)
        perProduct[method].push(query)
        const reciprocal = Metrics.reciprocalRank(query)
        line.push(`${method}=${reciprocal === 0 ? "-" : Math.round(1 / reciprocal)}`)
      }
      if (verbose) console.log(`${question.id} ${line.join(" ")}  ${question.question.split("\n")[0]!.slice(0, 60)}`)
    })
  }

  const row = (label: string, queries: ReadonlyArray<Metrics.RankedQuery<string>>) =>
    `| ${label} | ${queries.length} | ${hitRateAtK(queries, 1).toFixed(3)} | ${hitRateAtK(queries, 5).toFixed(3)} | ${
      Metrics.mrr(queries).toFixed(3)
    } |`
  console.log(`\n### ${split} (${questions.length} questions)\n`)
  console.log("| method | n | recall@1 | recall@5 | MRR |\n|---|---|---|---|---|")
  for (const method of methods) console.log(row(method, byMethod[method]))
  console.log("\n| product · method | n | recall@1 | recall@5 | MRR |\n|---|---|---|---|---|")
  for (const [product, perProduct] of productRanks) {
    for (const method of methods) console.log(row(`${product} · ${method}`, perProduct[method]))
  }
}


// ---------------------------------------------------------------------------------------------
// Recipe search (`--recipes`): variants of what is indexed, what is searched for, how passages
// make an article and how the two rankings are fused, each measured on its own.
// Usage: compare-embeddings.ts --recipes [--split dev] [--only name,prefix*] [--products a,b]
//        [--embed] (embed texts missing from the cache; without it a recipe whose vectors are
//        not all cached reports its lexical side only) [--embed-queries] (embed missing query
//        texts only: cheap)

type QueryMode =
  | "full"
  | "title"
  | "clean"
  | "tidy"
  | `clean:${number}`
  | `full:${number}`
  | `tidy:${number}`
  | "title|clean"
  | "title|tidy"
  | "title&full"
  | "title&tidy"

/**
 * A question without what search cannot use: what the product's `CaseText.tidy` leaves out
 * (URLs and images, stack frames, template headings, check boxes), and, unless `keepCode`,
 * its fenced code blocks.
 */
export const cleanQuestion = (text: string, keepCode = false): string =>
  tidy(keepCode ? text : text.replace(/```[\s\S]*?(```|$)/g, "\n"))

const questionTitle = (text: string) => text.split("\n")[0]!.trim()

/** The texts a query mode searches with (two for "title|clean": their scores are averaged). */
const queryTexts = (question: string, mode: QueryMode): Array<string> => {
  if (mode === "full") return [question]
  if (mode === "title") return [questionTitle(question)]
  if (mode === "clean") return [cleanQuestion(question)]
  if (mode === "tidy") return [cleanQuestion(question, true)]
  // title|X: the title and the rest apart; title&X: the title and the whole (title included) apart.
  // Two texts: their cosines are averaged, their lexical scores added.
  const [kind, n] = mode.split(/[:|&]/) as [string, string]
  const body = (m: string) => m === "clean" ? cleanQuestion(question) : m === "tidy" ? cleanQuestion(question, true) : question
  if (mode.includes("|") || mode.includes("&")) {
    const rest = mode.includes("|") ? body(n).split("\n").slice(1).join("\n").trim() : body(n)
    return rest === "" ? [questionTitle(question)] : [questionTitle(question), rest]
  }
  return [body(kind).slice(0, Number(n))]
}

type LexicalSpec =
  | {
    readonly kind: "bm25"
    /** What the heading field holds: title and section ("title+section"), nothing ("none", body alone). */
    readonly heading: "title+section" | "none" | "title"
    readonly stem: boolean
    readonly stop: boolean
    readonly headingWeight: number
    readonly maxQueryTerms?: number
    /** Leave out lexemes in more than this many passages of the corpus (the product's `commonLexemes`). */
    readonly commonPassages?: number
    readonly selectionBudget?: number
  }
  | ({ readonly kind: "pg" } & Rankers.PgRankOptions)

type FusionSpec =
  /** The evaluation's fusion so far: articles ranked by best passage in each list, then RRF of the article lists. */
  | { readonly kind: "article-rrf"; readonly k: number; readonly wVec: number; readonly wLex: number; readonly depth: number }
  /** The product's: RRF of the passage lists (each cut to `candidates`), an article as its best fused passage. */
  | { readonly kind: "passage-rrf"; readonly k: number; readonly wVec: number; readonly wLex: number; readonly candidates: number }
  /** Score-level: over the union of both candidate lists, alpha * min-max(cosine) + (1 - alpha) * lexical / max(lexical). */
  | { readonly kind: "score"; readonly alpha: number; readonly candidates: number }

interface Recipe {
  readonly name: string
  readonly passages: "eval" | "production"
  /** Chunk size of the eval chunker (characters). */
  readonly window: number
  /** Add the whole-article "title + first paragraph" pseudo-passage (to both halves). */
  readonly lead: boolean
  readonly vecQuery: QueryMode
  readonly lexQuery: QueryMode
  readonly lexical: LexicalSpec
  readonly fusion: FusionSpec
  /** An article scores as its best passage plus this times its second best. */
  readonly second: number
  /** Weight of a third fused list: articles ranked by BM25 of their titles alone (0: none). */
  readonly titleList: number
}

const base: Recipe = {
  name: "baseline (eval rrf)",
  passages: "eval",
  window: 700,
  lead: false,
  vecQuery: "full",
  lexQuery: "full",
  lexical: { kind: "bm25", heading: "title+section", stem: false, stop: false, headingWeight: 1 },
  fusion: { kind: "article-rrf", k: 60, wVec: 1, wLex: 1, depth: Infinity },
  second: 0,
  titleList: 0
}
const stemmed: LexicalSpec = { kind: "bm25", heading: "title+section", stem: true, stop: true, headingWeight: 1 }
const stemmedH3: LexicalSpec = { ...stemmed, headingWeight: 3 } as LexicalSpec
const pgProduct: LexicalSpec = { kind: "pg", commonPassages: 1000, maxQueryWords: 16, weightA: 1, weightD: 0.1, logLength: false, idf: false }
const production: Recipe = {
  ...base,
  name: "product as built (passage rrf, ts_rank_cd)",
  passages: "production",
  lexical: pgProduct,
  fusion: { kind: "passage-rrf", k: 60, wVec: 1, wLex: 1, candidates: 50 }
}

const lx: Recipe = {
  ...base,
  name: "LX",
  lexical: { kind: "bm25", heading: "title+section", stem: true, stop: true, headingWeight: 3 },
  lexQuery: "title&tidy",
  second: 0.5
}

const scoreFusion: FusionSpec = { kind: "score", alpha: 0.3, candidates: 100 }

/** The recommendation: LX, the vector half searched with the tidied question, score fusion (0.3 cosine, 0.7 BM25). */
const win: Recipe = {
  ...lx,
  name: "WIN",
  vecQuery: "tidy",
  lexical: { kind: "bm25", heading: "title+section", stem: true, stop: true, headingWeight: 3, maxQueryTerms: 32 },
  fusion: scoreFusion
}

const recipes = (): Array<Recipe> => {
  const r = (name: string, over: Partial<Recipe>, from: Recipe = base): Recipe => ({ ...from, ...over, name })
  return [
    base,
    production,
    r("prod: ts_rank_cd on eval chunks", { lexical: pgProduct, fusion: production.fusion }),
    r("prod: passage-rrf c50 (bm25)", { fusion: production.fusion }),
    // 1. what is indexed
    r("bm25 body only (no title/section)", { lexical: { ...base.lexical, heading: "none" } as LexicalSpec }),
    r("bm25 title only prefix", { lexical: { ...base.lexical, heading: "title" } as LexicalSpec }),
    r("bm25 heading x2", { lexical: { ...base.lexical, headingWeight: 2 } as LexicalSpec }),
    r("bm25 heading x3", { lexical: { ...base.lexical, headingWeight: 3 } as LexicalSpec }),
    r("lead pseudo-passage", { lead: true }),
    r("window 400", { window: 400 }),
    r("window 1000", { window: 1000 }),
    r("production chunks (1000, overlap)", { passages: "production" }),
    // 5. BM25 like PostgreSQL english
    r("bm25 stem+stop", { lexical: stemmed }),
    r("bm25 stop only", { lexical: { ...stemmed, stem: false } as LexicalSpec }),
    r("bm25 stem+stop heading x2", { lexical: { ...stemmed, headingWeight: 2 } as LexicalSpec }),
    r("bm25 stem+stop heading x3", { lexical: { ...stemmed, headingWeight: 3 } as LexicalSpec }),
    r("bm25 stem+stop b=0.5", { lexical: { ...stemmed, b: 0.5 } as LexicalSpec }),
    r("pg ts_rank_cd all words", { lexical: { ...pgProduct, maxQueryWords: 1000 } }),
    r("pg ts_rank_cd + idf", { lexical: { ...pgProduct, idf: true } }),
    r("pg ts_rank_cd + idf, all words", { lexical: { ...pgProduct, idf: true, maxQueryWords: 1000 } }),
    r("pg ts_rank_cd + idf + loglength", { lexical: { ...pgProduct, idf: true, logLength: true, maxQueryWords: 1000 } }),
    r("pg ts_rank_cd + idf, A=0.4", { lexical: { ...pgProduct, idf: true, maxQueryWords: 1000, weightA: 0.4 } }),
    // 2. query side
    r("query title only", { vecQuery: "title", lexQuery: "title" }),
    r("query clean", { vecQuery: "clean", lexQuery: "clean" }),
    r("query clean:300", { vecQuery: "clean:300", lexQuery: "clean:300" }),
    r("query clean:600", { vecQuery: "clean:600", lexQuery: "clean:600" }),
    r("query full:300", { vecQuery: "full:300", lexQuery: "full:300" }),
    r("query vec title+body apart, lex clean", { vecQuery: "title|clean", lexQuery: "clean" }),
    r("query vec title, lex clean", { vecQuery: "title", lexQuery: "clean" }),
    r("query vec clean, lex full", { vecQuery: "clean", lexQuery: "full" }),
    // 3. aggregation
    r("query tidy (code kept)", { vecQuery: "tidy", lexQuery: "tidy" }),
    r("query title&full", { vecQuery: "title&full", lexQuery: "title&full" }),
    r("query title&tidy", { vecQuery: "title&tidy", lexQuery: "title&tidy" }),
    r("query title+tidy-body apart", { vecQuery: "title|tidy", lexQuery: "title|tidy" }),
    r("S: stem+stop hx3", { lexical: stemmedH3 }),
    r("S: stem+stop hx3, q title", { lexical: stemmedH3, lexQuery: "title" }),
    r("S: stem+stop hx3, q title&full", { lexical: stemmedH3, lexQuery: "title&full" }),
    r("S: stem+stop hx3, q tidy", { lexical: stemmedH3, lexQuery: "tidy" }),
    r("S: stem+stop hx3, q title&tidy", { lexical: stemmedH3, lexQuery: "title&tidy" }),
    r("S: stem+stop hx3, q clean", { lexical: stemmedH3, lexQuery: "clean" }),
    r("S: stem+stop hx3, window 1000", { lexical: stemmedH3, window: 1000 }),
    r("S: stem+stop hx3, production chunks", { lexical: stemmedH3, passages: "production" }),
    r("S: stem+stop hx3, lead", { lexical: stemmedH3, lead: true }),
    r("S: stem+stop hx3, second 0.5", { lexical: stemmedH3, second: 0.5 }),
    r("L: S + title&tidy + second 0.5", { lexical: stemmedH3, lexQuery: "title&tidy", second: 0.5 }),
    r("L: S + title&tidy + production chunks", { lexical: stemmedH3, lexQuery: "title&tidy", passages: "production" }),
    r("L: S + title&tidy + production chunks + second 0.5", { lexical: stemmedH3, lexQuery: "title&tidy", passages: "production", second: 0.5 }),
    r("L: S + title&tidy + window 1000 + second 0.5", { lexical: stemmedH3, lexQuery: "title&tidy", window: 1000, second: 0.5 }),
    r("L: S hx2 + title&tidy + second 0.5", { lexical: { ...stemmed, headingWeight: 2 } as LexicalSpec, lexQuery: "title&tidy", second: 0.5 }),
    r("L: S + title&full + second 0.5", { lexical: stemmedH3, lexQuery: "title&full", second: 0.5 }),
    r("L: pg+idf all words + title&tidy", { lexical: { ...pgProduct, idf: true, maxQueryWords: 1000 }, lexQuery: "title&tidy" }),
    r("L: pg+idf A=1 D=0.33 all words + title&tidy", { lexical: { ...pgProduct, idf: true, maxQueryWords: 1000, weightD: 0.33 }, lexQuery: "title&tidy" }),
    r("L: pg+idf+loglen D=0.33 + title&tidy", { lexical: { ...pgProduct, idf: true, logLength: true, maxQueryWords: 1000, weightD: 0.33 }, lexQuery: "title&tidy" }),
    // F: fusion on top of the best lexical recipe (LX = stem+stop, heading x3, query title&tidy, best + 0.5 second)
    r("F: LX, rrf k60", {}, lx),
    r("F: LX, vec q clean, rrf k60", { vecQuery: "clean" }, lx),
    r("F: LX, rrf k60 wLex 2", { fusion: { ...base.fusion, wLex: 2 } as FusionSpec }, lx),
    r("F: LX, rrf k60 wLex 3", { fusion: { ...base.fusion, wLex: 3 } as FusionSpec }, lx),
    r("F: LX, vec q clean, rrf k60 wLex 2", { vecQuery: "clean", fusion: { ...base.fusion, wLex: 2 } as FusionSpec }, lx),
    r("F: LX, rrf k10", { fusion: { ...base.fusion, k: 10 } as FusionSpec }, lx),
    r("F: LX, rrf k30 wLex 2", { fusion: { ...base.fusion, k: 30, wLex: 2 } as FusionSpec }, lx),
    r("F: LX, passage-rrf c50", { fusion: production.fusion }, lx),
    r("F: LX, passage-rrf c50 wLex 2", { fusion: { ...production.fusion, wLex: 2 } as FusionSpec }, lx),
    r("F: LX, passage-rrf c20 wLex 2", { fusion: { ...production.fusion, wLex: 2, candidates: 20 } as FusionSpec }, lx),
    r("F: LX, score a=0.2", { fusion: { kind: "score", alpha: 0.2, candidates: 100 } }, lx),
    r("F: LX, score a=0.3", { fusion: { kind: "score", alpha: 0.3, candidates: 100 } }, lx),
    r("F: LX, score a=0.4", { fusion: { kind: "score", alpha: 0.4, candidates: 100 } }, lx),
    r("F: LX, vec q clean, score a=0.3", { vecQuery: "clean", fusion: { kind: "score", alpha: 0.3, candidates: 100 } }, lx),
    r("F: LX, lead, rrf k60 wLex 2", { lead: true, fusion: { ...base.fusion, wLex: 2 } as FusionSpec }, lx),
    r("F: LX, title list 0.5, rrf k60 wLex 2", { titleList: 0.5, fusion: { ...base.fusion, wLex: 2 } as FusionSpec }, lx),
    // W: the winner (LX + score fusion alpha 0.3 over 100 candidates per list) and its neighbours
    r("W: LX, score a=0.3 c100", { fusion: scoreFusion }, lx),
    r("W: LX no second, score a=0.3", { second: 0, fusion: scoreFusion }, lx),
    r("W: LX second 0.25, score a=0.3", { second: 0.25, fusion: scoreFusion }, lx),
    r("W: LX, score a=0.3 c50", { fusion: { ...scoreFusion, candidates: 50 } as FusionSpec }, lx),
    r("W: LX, score a=0.3 c200", { fusion: { ...scoreFusion, candidates: 200 } as FusionSpec }, lx),
    r("W: LX hx2, score a=0.3", { lexical: { ...stemmed, headingWeight: 2 } as LexicalSpec, fusion: scoreFusion }, lx),
    r("W: LX query title&full, score a=0.3", { lexQuery: "title&full", fusion: scoreFusion }, lx),
    r("W: LX vec q title+clean apart, score a=0.3", { vecQuery: "title|clean", fusion: scoreFusion }, lx),
    r("W: LX, lead, score a=0.3", { lead: true, fusion: scoreFusion }, lx),
    r("W: LX, production chunks, score a=0.3", { passages: "production", fusion: scoreFusion }, lx),
    r("W: LX, production chunks, passage-rrf c50 wLex 2", { passages: "production", fusion: { ...production.fusion, wLex: 2 } as FusionSpec }, lx),
    r("W: LX, production chunks, lexical only", { passages: "production", fusion: { kind: "score", alpha: 0, candidates: 100 } }, lx),
    r("W: LX capped (16 words, common>1000 out), score a=0.3", { lexical: { ...stemmedH3, maxQueryTerms: 16, commonPassages: 1000 } as LexicalSpec, fusion: scoreFusion }, lx),
    r("W: LX capped (32 words, common>1000 out), score a=0.3", { lexical: { ...stemmedH3, maxQueryTerms: 32, commonPassages: 1000 } as LexicalSpec, fusion: scoreFusion }, lx),
    r("W: LX capped (32 words), score a=0.3", { lexical: { ...stemmedH3, maxQueryTerms: 32 } as LexicalSpec, fusion: scoreFusion }, lx),
    r("W: LX capped (16 words), score a=0.3", { lexical: { ...stemmedH3, maxQueryTerms: 16 } as LexicalSpec, fusion: scoreFusion }, lx),
    r("W: LX capped (32 words), production chunks, score a=0.3", { passages: "production", lexical: { ...stemmedH3, maxQueryTerms: 32 } as LexicalSpec, fusion: scoreFusion }, lx),
    r("W: LX vec q title&tidy, score a=0.3", { vecQuery: "title&tidy", fusion: scoreFusion }, lx),
    r("W: LX vec q tidy, score a=0.3", { vecQuery: "tidy", fusion: scoreFusion }, lx),
    // WIN: the recommendation, on the eval chunks and on the product's chunks
    r("WIN: LX + vec q tidy + score a=0.3 c100, lexemes<=32", win, win),
    ...[200, 500, 1000, 2000].map((budget) =>
      r(`B: WIN, selection budget ${budget}`, { lexical: { ...(win.lexical as object), selectionBudget: budget } as LexicalSpec }, win)
    ),
    r("WIN on production chunks", { passages: "production" }, win),
    r("WIN on production chunks, passage-rrf c50 wLex 2 (rank fusion kept)", { passages: "production", fusion: { ...production.fusion, wLex: 2 } as FusionSpec }, win),
    r("S: stem+stop hx5", { lexical: { ...stemmed, headingWeight: 5 } as LexicalSpec }),
    r("best + 0.5 second", { second: 0.5 }),
    r("best + 0.25 second", { second: 0.25 }),
    r("title list (w 1)", { titleList: 1 }),
    r("title list (w 0.5)", { titleList: 0.5 }),
    // 4. fusion
    r("rrf k=10", { fusion: { ...base.fusion, k: 10 } as FusionSpec }),
    r("rrf k=30", { fusion: { ...base.fusion, k: 30 } as FusionSpec }),
    r("rrf k=100", { fusion: { ...base.fusion, k: 100 } as FusionSpec }),
    r("rrf lex weight 1.5", { fusion: { ...base.fusion, wLex: 1.5 } as FusionSpec }),
    r("rrf vec weight 1.5", { fusion: { ...base.fusion, wVec: 1.5 } as FusionSpec }),
    r("rrf depth 20", { fusion: { ...base.fusion, depth: 20 } as FusionSpec }),
    r("passage-rrf c20", { fusion: { ...production.fusion, candidates: 20 } as FusionSpec }),
    r("passage-rrf c100", { fusion: { ...production.fusion, candidates: 100 } as FusionSpec }),
    r("passage-rrf c200", { fusion: { ...production.fusion, candidates: 200 } as FusionSpec }),
    r("score fusion a=0.3", { fusion: { kind: "score", alpha: 0.3, candidates: 100 } }),
    r("score fusion a=0.5", { fusion: { kind: "score", alpha: 0.5, candidates: 100 } }),
    r("score fusion a=0.7", { fusion: { kind: "score", alpha: 0.7, candidates: 100 } })
  ]
}

/** Extra recipes given as JSON on the command line (--recipe '{"name":…, …}', merged over the baseline). */
const extraRecipes = (): Array<Recipe> =>
  process.argv.flatMap((arg, i) => process.argv[i - 1] === "--recipe" ? [{ ...base, ...JSON.parse(arg) } as Recipe] : [])

interface Scored {
  readonly r1: number
  readonly r5: number
  readonly mrr: number
}

const runRecipes = async (split: Dataset.Split) => {
  const embed = process.argv.includes("--embed")
  const only = argument("--only")?.split(",")
  const selected = [...recipes(), ...extraRecipes()].filter((recipe) =>
    only === undefined || only.some((o) => o.endsWith("*") ? recipe.name.startsWith(o.slice(0, -1)) : recipe.name === o)
  )
  const articles = Dataset.articles()
  const productFilter = argument("--products")?.split(",")
  const questions = Dataset.questions().filter((q) => q.split === split && (productFilter?.includes(q.product) ?? true))
  const products = [...new Set(questions.map((q) => q.product))].sort()
  const vectorsOf = async (texts: ReadonlyArray<string>) => embed ? useVectors(texts) : cachedVectors(texts)

  // Passage sets, built once per (chunker, window, lead).
  const passageSets = new Map<string, { passages: Array<Dataset.Passage>; df: Map<string, number> }>()
  const passageSet = (recipe: Recipe) => {
    const key = `${recipe.passages}/${recipe.window}/${recipe.lead}`
    let set = passageSets.get(key)
    if (set === undefined) {
      const passages = articles.flatMap((a) => [
        ...(recipe.passages === "eval" ? Dataset.evalPassages(a, recipe.window) : Dataset.productionPassages(a)),
        ...(recipe.lead ? [Dataset.leadPassage(a)] : [])
      ])
      const df = Rankers.lexemeDocumentFrequency(passages.map((p) => ({ heading: headingOf(p, "title+section"), body: p.body })))
      set = { passages, df }
      passageSets.set(key, set)
    }
    return set
  }
  const headingOf = (p: Dataset.Passage, heading: "title+section" | "none" | "title") =>
    heading === "none" ? "" : heading === "title" || p.section === "" ? p.title : `${p.title} ${p.section}`
  const embedText = (recipe: Recipe, p: Dataset.Passage) =>
    recipe.passages === "production" ? Dataset.productionText(p) : Dataset.evalText(p)

  const results: Array<{ recipe: Recipe; vec?: Scored; lex: Scored; fused?: Scored; perProduct: Map<string, Scored> }> = []
  for (const recipe of selected) {
    const { passages, df } = passageSet(recipe)
    // Vectors only for the passages of the products asked about.
    const wanted = passages.flatMap((p, i) => products.includes(articleProductOf(p.articleId)) ? [i] : [])
    const wantedVectors = await vectorsOf(wanted.map((i) => embedText(recipe, passages[i]!)))
    const passageVectors = wantedVectors === undefined ? undefined : new Map(wanted.map((i, j) => [i, wantedVectors[j]!]))
    const queryVectorTexts = questions.map((q) => queryTexts(q.question, recipe.vecQuery))
    const flatQueryVectors = passageVectors === undefined
      ? undefined
      : process.argv.includes("--embed-queries")
      ? await useVectors(queryVectorTexts.flat())
      : await vectorsOf(queryVectorTexts.flat())
    const hasVectors = passageVectors !== undefined && flatQueryVectors !== undefined
    const runs: Record<"vec" | "lex" | "fused", Array<Metrics.RankedQuery<string>>> = { vec: [], lex: [], fused: [] }
    const perProduct = new Map<string, Array<Metrics.RankedQuery<string>>>()
    let vectorCursor = 0
    const queryVectors = queryVectorTexts.map((texts) => {
      const vs = flatQueryVectors?.slice(vectorCursor, vectorCursor + texts.length)
      vectorCursor += texts.length
      return vs
    })
    for (const product of products) {
      const indices = passages.flatMap((p, i) => articleProductOf(p.articleId) === product ? [i] : [])
      const ps = indices.map((i) => passages[i]!)
      const ids = ps.map((p) => p.articleId)
      const common = (recipe.lexical as { commonPassages?: number }).commonPassages
      const lexical = recipe.lexical.kind === "bm25"
        ? Rankers.bm25Fielded(
          ps.map((p) => ({ heading: headingOf(p, (recipe.lexical as { heading: "title+section" }).heading), body: p.body })),
          common === undefined ? recipe.lexical : { ...recipe.lexical, exclude: new Set([...df].flatMap(([t, n]) => n > common ? [t] : [])) }
        )
        : Rankers.pgRank(ps.map((p) => ({ heading: headingOf(p, "title+section"), body: p.body })), df, passages.length, recipe.lexical)
      // Articles by their titles alone (BM25, stemmed): the optional third list.
      const titleIds = [...new Set(ids)]
      const titles = Rankers.bm25Fielded(titleIds.map((id) => ({ heading: titleOf(id), body: "" })), { ...stemmed, headingWeight: 1 } as Rankers.Bm25Options)
      const perProductRuns: Array<Metrics.RankedQuery<string>> = []
      perProduct.set(product, perProductRuns)
      questions.forEach((question, qi) => {
        if (question.product !== product) return
        const relevant = question.answerArticleIds
        const lexTexts = queryTexts(question.question, recipe.lexQuery)
        const lexScores = lexTexts.map((t) => lexical(t)).reduce((acc, s) => acc.map((x, i) => x + s[i]!))
        const lexRanking = Rankers.rankArticlesBy(ids, lexScores, recipe.second)
        runs.lex.push({ ranked: lexRanking, relevant })
        if (!hasVectors) return
        const qv = queryVectors[qi]!
        const cos = indices.map((i) => qv.reduce((total, v) => total + Rankers.dot(passageVectors.get(i)!, v), 0) / qv.length)
        const vecRanking = Rankers.rankArticlesBy(ids, cos, recipe.second)
        runs.vec.push({ ranked: vecRanking, relevant })
        const titleRanking = recipe.titleList > 0 ? Rankers.rankArticles(titleIds, titles(lexTexts.join("\n"))) : []
        let fused: Array<string>
        const fusion = recipe.fusion
        if (fusion.kind === "article-rrf") {
          fused = Rankers.weightedRrf([
            { ranking: vecRanking, weight: fusion.wVec },
            { ranking: lexRanking, weight: fusion.wLex },
            ...(recipe.titleList > 0 ? [{ ranking: titleRanking, weight: recipe.titleList }] : [])
          ], fusion.k, fusion.depth)
        } else if (fusion.kind === "passage-rrf") {
          const passageFused = Rankers.fusePassages(ids, [
            { ranked: Rankers.topIndices(cos, fusion.candidates), weight: fusion.wVec },
            { ranked: Rankers.topIndices(lexScores, fusion.candidates, 0), weight: fusion.wLex }
          ], fusion.k, recipe.second)
          fused = recipe.titleList > 0
            ? Rankers.weightedRrf([{ ranking: passageFused, weight: 1 }, { ranking: titleRanking, weight: recipe.titleList }], fusion.k)
            : passageFused
        } else {
          const union = [...new Set([...Rankers.topIndices(cos, fusion.candidates), ...Rankers.topIndices(lexScores, fusion.candidates, 0)])]
          const cs = union.map((i) => cos[i]!)
          const ls = union.map((i) => lexScores[i]!)
          const cMin = Math.min(...cs)
          const cMax = Math.max(...cs)
          const lMax = Math.max(...ls, 1e-9)
          const scores = union.map((_, j) => fusion.alpha * (cs[j]! - cMin) / Math.max(1e-9, cMax - cMin) + (1 - fusion.alpha) * ls[j]! / lMax)
          fused = Rankers.rankArticlesBy(union.map((i) => ids[i]!), scores, recipe.second)
          if (recipe.titleList > 0) {
            fused = Rankers.weightedRrf([{ ranking: fused, weight: 1 }, { ranking: titleRanking, weight: recipe.titleList }], 60)
          }
        }
        runs.fused.push({ ranked: fused, relevant })
        perProductRuns.push({ ranked: fused, relevant })
      })
    }
    const score = (qs: ReadonlyArray<Metrics.RankedQuery<string>>): Scored => ({
      r1: hitRateAtK(qs, 1),
      r5: hitRateAtK(qs, 5),
      mrr: Metrics.mrr(qs)
    })
    results.push({
      recipe,
      lex: score(runs.lex),
      ...(hasVectors ? { vec: score(runs.vec), fused: score(runs.fused) } : {}),
      perProduct: new Map([...perProduct].map(([p, qs]) => [p, score(qs)]))
    })
    const last = results[results.length - 1]!
    const f = (s: Scored | undefined) => s === undefined ? "– | – | –" : `${s.r1.toFixed(3)} | ${s.r5.toFixed(3)} | ${s.mrr.toFixed(3)}`
    if (results.length === 1) {
      console.log(`\n### recipes, ${split} (${questions.length} questions: ${products.map((p) => `${p} ${questions.filter((q) => q.product === p).length}`).join(", ")})\n`)
      console.log(`| recipe | fused r@1 | fused r@5 | fused MRR | vec r@5 | lex r@1 | lex r@5 | lex MRR | fused r@5 by product |`)
      console.log(`|---|---|---|---|---|---|---|---|---|`)
    }
    console.log(
      `| ${recipe.name} | ${f(last.fused)} | ${last.vec?.r5.toFixed(3) ?? "–"} | ${f(last.lex)} | ${
        hasVectors ? [...last.perProduct].map(([p, s]) => `${p} ${s.r5.toFixed(2)}`).join(" · ") : "–"
      } |`
    )
  }
}

const articleIndex = new Map(Dataset.articles().map((a) => [a.id, a]))
const articleProductOf = (id: string) => articleIndex.get(id)!.product
const titleOf = (id: string) => articleIndex.get(id)!.title

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
