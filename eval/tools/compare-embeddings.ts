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
 *        pnpm exec tsx eval/tools/compare-embeddings.ts --embed-only   (fills the vector cache, measures nothing)
 * Choose on `dev`; `heldout` is for the single final report, never for tuning.
 */
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as BuiltinEmbeddings from "../../packages/ai/src/BuiltinEmbeddings.js"
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
 * USE-lite vectors for `texts`, cached on disk by content: embedding every chunk takes minutes
 * on two cores and does not change between runs of the same dataset.
 */
const useVectors = async (texts: ReadonlyArray<string>): Promise<Array<Float32Array>> => {
  const key = createHash("sha256").update(BuiltinEmbeddings.model).update(texts.join("\u0000")).digest("hex").slice(0, 16)
  const file = Path.join(Os.tmpdir(), `nestfleet-use-${key}.f32`)
  const dims = BuiltinEmbeddings.dimensions
  if (Fs.existsSync(file)) {
    const buffer = Fs.readFileSync(file)
    const all = new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4)
    return texts.map((_, i) => all.slice(i * dims, (i + 1) * dims))
  }
  const encoder = await BuiltinEmbeddings.loadUseLite()
  const vectors: Array<Float32Array> = []
  const started = performance.now()
  for (let start = 0; start < texts.length; start += 8) {
    const batch = await encoder.embed(texts.slice(start, start + 8) as Array<string>)
    for (const vector of batch) vectors.push(Float32Array.from(BuiltinEmbeddings.normalise(vector)))
    if (start % 512 === 0) process.stderr.write(`  embedded ${start}/${texts.length}\r`)
  }
  const elapsed = performance.now() - started
  process.stderr.write(`  embedded ${texts.length} texts in ${(elapsed / 1000).toFixed(1)} s (${(elapsed / texts.length).toFixed(1)} ms each)\n`)
  const all = new Float32Array(texts.length * dims)
  vectors.forEach((vector, i) => all.set(vector, i * dims))
  Fs.writeFileSync(file, Buffer.from(all.buffer))
  return vectors
}

const main = async () => {
  if (process.argv.includes("--embed-only")) {
    const chunks = Dataset.articles().flatMap(Dataset.chunk)
    await useVectors(chunks.map((c) => c.text))
    return
  }
  const split = (argument("--split") ?? "dev") as Dataset.Split
  if (split !== "dev" && split !== "heldout") throw new Error("--split is dev or heldout")
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

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
