/**
 * `pnpm bench kb`: the knowledge base's search latency at about 10k and 100k passages on the
 * PostgreSQL server, beside pgvector's HNSW query alone, and the builtin model's embedding
 * throughput. How the corpora are made is in KnowledgeSearch.ts, which measures in a process of
 * its own (the builtin model's worker thread and a few hundred MB of vectors end with it) and
 * writes its samples to a file; this prints them.
 *
 * Needs a server: BENCH_DATABASE_URL, else TEST_DATABASE_URL.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { percentile, printTable } from "../lib/Stats.js"
import type { Results } from "./KnowledgeSearch.js"

const root = Path.resolve(fileURLToPath(import.meta.url), "../../..")
/** The per-query target from the issue: p95 at 100k passages on the 2-core machine. */
const targetP95Ms = 10

if (!(process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL)) {
  process.stderr.write("pnpm bench kb needs a PostgreSQL server: set BENCH_DATABASE_URL or TEST_DATABASE_URL\n")
  process.exit(1)
}

const resultsFile = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-bench-kb-")), "results.json")
const code = await new Promise<number | null>((resolve) => {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/kb/KnowledgeSearch.ts", resultsFile], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
    stdio: ["ignore", "inherit", "inherit"]
  })
  child.on("exit", resolve)
})
if (code !== 0) process.exit(code ?? 1)
const results = JSON.parse(Fs.readFileSync(resultsFile, "utf8")) as Results
Fs.rmSync(Path.dirname(resultsFile), { recursive: true, force: true })

const ms = (value: number) => value.toFixed(2)
const { queryEmbedding, scales, settings, throughput } = results

process.stdout.write(
  `\nEmbedding (builtin USE-lite, 512 dimensions, batches of 8): ${throughput.passages} real passages of ` +
    `~${throughput.averageCharacters} characters in ${throughput.seconds.toFixed(1)} s = ` +
    `${(throughput.passages / throughput.seconds).toFixed(1)} passages/s ` +
    `(${((throughput.seconds * 1000) / throughput.passages).toFixed(1)} ms each)\n`
)
process.stdout.write(
  `Embedding one query: short (~${Math.round(queryEmbedding.shortChars)} chars) p50 ${ms(percentile(queryEmbedding.short, 50))} ms, ` +
    `long (~${Math.round(queryEmbedding.longChars)} chars) p50 ${ms(percentile(queryEmbedding.long, 50))} ms — not in the search figures below\n\n`
)

const subjects = [
  ["pgvector", "pgvector HNSW alone (top 5, the product's index, no join, no words)"],
  ["repo", "KnowledgeRepo.searchPassages (hybrid, fused, in the product)"],
  ["search", "Knowledge.search (+ product check, score curve, one per article)"]
] as const

for (const scale of scales) {
  process.stdout.write(
    `${scale.passages} passages in ${scale.articles} articles (${settings.tenants} tenants × 7 products; ` +
      `the nextjs product searched holds ${scale.searchedProductPassages} published ones). ` +
      `Loaded in ${scale.loadSeconds.toFixed(0)} s; indexes (full-text and HNSW, per product) built in ${scale.indexSeconds.toFixed(0)} s. ` +
      `Answer page in Knowledge.search's top 5: short ${(scale.answered.short! * 100).toFixed(0)}%, long ${(scale.answered.long! * 100).toFixed(0)}%\n`
  )
  const rows: Array<Array<string>> = [["query", "subject", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"]]
  for (const kind of ["short", "long"] as const) {
    for (const [subject, label] of subjects) {
      const samples = scale.samples[`${subject}/${kind}`] ?? []
      rows.push([
        kind,
        label,
        String(samples.length),
        ms(percentile(samples, 50)),
        ms(percentile(samples, 95)),
        ms(percentile(samples, 99)),
        ms(Math.max(...samples))
      ])
    }
  }
  printTable(rows)
  // Each product has its own HNSW index in the space (migration 008): its share of the vectors
  // should no longer matter (with one shared index it did: the iterative scan walked past every
  // other product's vectors).
  const byProduct = Object.entries(scale.productShares)
    .filter(([product]) => scale.samples[`search/short/${product}`] !== undefined)
    .sort(([, a], [, b]) => b - a)
    .map(([product, share]) => {
      const samples = [...scale.samples[`search/short/${product}`]!, ...scale.samples[`search/long/${product}`] ?? []]
      return `${product} ${(share * 100).toFixed(1)}% ${ms(percentile(samples, 50))}/${ms(percentile(samples, 95))}`
    })
  process.stdout.write(`Knowledge.search p50/p95 ms by product searched (its share of the vectors): ${byProduct.join(", ")}\n\n`)
}

const largest = scales[scales.length - 1]
if (largest !== undefined) {
  const verdicts = (["short", "long"] as const).map((kind) => {
    const p95 = percentile(largest.samples[`search/${kind}`] ?? [], 95)
    return `${kind} ${ms(p95)} ms ${p95 <= targetP95Ms ? "meets" : "misses"}`
  })
  process.stdout.write(`Target p95 ≤ ${targetP95Ms} ms for Knowledge.search at ${largest.passages} passages: ${verdicts.join("; ")}\n`)
}
process.stdout.write(
  `Corpus: ${settings.basePages} real documentation pages (${settings.basePassages} passages, real USE-lite vectors), ` +
    `copied until the size: copy 0 exact, every other copy's vectors the original + N(0, ${settings.noiseSigma}²) ` +
    `per dimension, re-normalised (mean cosine to the original ${scales[0]?.copyCosine.toFixed(3) ?? "?"}); ` +
    `1 copy in ${settings.draftEvery} a draft. Queries: ${settings.questions} real questions, embedded for real, ` +
    `short (first line) and long (whole text), ${settings.rounds} rounds after a warm-up, one at a time.\n`
)
