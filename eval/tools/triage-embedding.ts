/**
 * The builtin triage classifier (packages/ai/src/EmbeddingTriage.ts, parameters in
 * TriageModel.json from eval/tools/train-triage.ts) on a labelled file of real GitHub issues,
 * with the same report as triage-baseline.ts, plus the time one triage takes.
 *
 * Usage: `pnpm exec tsx eval/tools/triage-embedding.ts eval/triage/dev.jsonl`
 *
 * Each issue is triaged as the builtin provider does it: its subject and body start embedded
 * together in one call of the bundled sentence encoder, then `decide`. The time is measured per
 * issue, one at a time, after one warm-up call. dev.jsonl is in the model's training data, so
 * its figures here are training figures; the cross-validated ones are printed by
 * train-triage.ts. heldout.jsonl is for a final, one-off measurement: do not tune on it.
 */
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as BuiltinEmbeddings from "../../packages/ai/src/BuiltinEmbeddings.js"
import * as EmbeddingTriage from "../../packages/ai/src/EmbeddingTriage.js"
import { type Outcome, readIssues, report } from "./triage-baseline.js"

const main = async () => {
  const file = process.argv[2]
  if (!file) {
    console.error("usage: pnpm exec tsx eval/tools/triage-embedding.ts <labelled.jsonl>")
    process.exit(2)
  }
  const issues = readIssues(file)
  const encoder = await BuiltinEmbeddings.loadUseLite()
  await encoder.embed(["warm up", "the encoder"])
  const outcomes: Array<Outcome> = []
  const times: Array<number> = []
  for (const issue of issues) {
    const input = { subject: issue.title, body: issue.body }
    const started = performance.now()
    const texts = EmbeddingTriage.embeddedTexts(input).map((text) => (text === "" ? " " : text))
    const [subject, body] = (await encoder.embed(texts)).map(BuiltinEmbeddings.normalise)
    const result = EmbeddingTriage.decide(input, subject!, body!)
    times.push(performance.now() - started)
    outcomes.push({ issue, type: result.type, severity: result.severity, confidence: result.confidence })
  }
  console.log(`model: ${EmbeddingTriage.model.model} (${JSON.stringify(EmbeddingTriage.model.training["data"])})`)
  console.log(report(file, outcomes))
  const sorted = times.toSorted((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(0)
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  console.log(`\nlatency per triage (embed subject + first ${EmbeddingTriage.model.bodyChars} body characters, decide):`)
  console.log(`mean ${mean.toFixed(0)} ms, p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`)
}

if (process.argv[1] && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
