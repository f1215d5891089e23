/**
 * Today's offline triage (`classify` in packages/ai/src/LexicalTriage.ts) on a labelled file of
 * real GitHub issues (eval/triage/*.jsonl, see eval/triage/SOURCES.md).
 *
 * Usage: `pnpm exec tsx eval/tools/triage-baseline.ts eval/triage/dev.jsonl`
 *
 * Prints type accuracy, macro-F1 over the types present in the file, per-type precision and
 * recall, the confusion table (rows: label, columns: prediction), severity accuracy on the items
 * whose labels state a severity, and the expected calibration error of the type confidence
 * (10 equal-width bins) with its reliability table. The subject is the issue title, the body the
 * issue text. heldout.jsonl is for a final, one-off measurement: do not tune on it.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { classify } from "../../packages/ai/src/LexicalTriage.js"
import { accuracy, calibrationBins, confusion, ece, macroF1, perClass } from "../lib/Metrics.js"

const types = ["bug", "question", "feature_request", "incident", "billing", "account", "other"] as const
const severities = ["critical", "high", "medium", "low"] as const
type TriageType = (typeof types)[number]
type TriageSeverity = (typeof severities)[number]

export interface LabelledIssue {
  readonly id: string
  readonly title: string
  readonly body: string
  readonly type: TriageType
  readonly severity: TriageSeverity | null
}

export const readIssues = (file: string): ReadonlyArray<LabelledIssue> =>
  Fs.readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, i) => {
      const item = JSON.parse(line) as LabelledIssue
      if (!types.includes(item.type)) throw new Error(`${file}:${i + 1}: unknown type ${JSON.stringify(item.type)}`)
      if (item.severity !== null && !severities.includes(item.severity)) {
        throw new Error(`${file}:${i + 1}: unknown severity ${JSON.stringify(item.severity)}`)
      }
      return item
    })

export interface Outcome {
  readonly issue: LabelledIssue
  readonly type: TriageType
  readonly severity: TriageSeverity
  readonly confidence: number
}

export const run = (issues: ReadonlyArray<LabelledIssue>): ReadonlyArray<Outcome> =>
  issues.map((issue) => {
    const result = classify({ subject: issue.title, body: issue.body })
    return { issue, type: result.type, severity: result.severity, confidence: result.confidence }
  })

const pct = (x: number) => (Number.isNaN(x) ? "  n/a" : `${(100 * x).toFixed(1).padStart(5)}%`)
const num = (x: number, digits = 3) => (Number.isNaN(x) ? "n/a" : x.toFixed(digits))

const grid = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")
  return [line(header), ...rows.map(line)].join("\n")
}

export const report = (file: string, outcomes: ReadonlyArray<Outcome>): string => {
  const gold = outcomes.map((o) => o.issue.type)
  const predicted = outcomes.map((o) => o.type)
  const present = types.filter((t) => gold.includes(t))
  const out: Array<string> = []
  out.push(`${file}: ${outcomes.length} issues`)
  out.push("")
  out.push(`type accuracy       ${pct(accuracy(gold, predicted))}`)
  out.push(`macro-F1 (${present.length} types present) ${num(macroF1(gold, predicted))}`)
  out.push("")

  const table = confusion(gold, predicted, types)
  const scores = perClass(table)
  out.push("per type (label = gold)")
  out.push(
    grid(
      ["type", "n", "predicted", "precision", "recall", "F1"],
      scores.map((s) => [s.label, String(s.support), String(s.predicted), pct(s.precision), pct(s.recall), num(s.f1)])
    )
  )
  out.push("")
  const short: Record<TriageType, string> = {
    bug: "bug",
    question: "quest",
    feature_request: "feat",
    incident: "incid",
    billing: "bill",
    account: "acct",
    other: "other"
  }
  out.push("confusion (rows: label, columns: prediction)")
  out.push(
    grid(
      ["label \\ pred", ...types.map((t) => short[t]), "total"],
      table.labels.map((label, i) => [label, ...table.counts[i]!.map(String), String(table.counts[i]!.reduce((a, b) => a + b, 0))])
    )
  )
  out.push("")

  const withSeverity = outcomes.filter((o) => o.issue.severity !== null)
  const sevGold = withSeverity.map((o) => o.issue.severity!)
  const sevPredicted = withSeverity.map((o) => o.severity)
  out.push(`severity accuracy   ${pct(accuracy(sevGold, sevPredicted))} on ${withSeverity.length} issues whose labels state a severity`)
  if (withSeverity.length > 0) {
    const sevTable = confusion(sevGold, sevPredicted, severities)
    out.push(
      grid(
        ["label \\ pred", ...severities],
        sevTable.labels.map((label, i) => [label, ...sevTable.counts[i]!.map(String)])
      )
    )
  }
  out.push("")

  const confidences = outcomes.map((o) => o.confidence)
  const correct = outcomes.map((o) => o.type === o.issue.type)
  const mean = confidences.reduce((a, b) => a + b, 0) / Math.max(1, confidences.length)
  out.push(`type confidence: mean ${num(mean)}, ECE (10 bins) ${num(ece(confidences, correct, 10))}`)
  out.push(
    grid(
      ["confidence", "n", "mean conf", "accuracy"],
      calibrationBins(confidences, correct, 10)
        .filter((b) => b.count > 0)
        .map((b) => [`${b.from.toFixed(1)}-${b.to.toFixed(1)}`, String(b.count), num(b.confidence), pct(b.accuracy)])
    )
  )
  return out.join("\n")
}

const main = () => {
  const file = process.argv[2]
  if (!file) {
    console.error("usage: pnpm exec tsx eval/tools/triage-baseline.ts <labelled.jsonl>")
    process.exit(2)
  }
  console.log(report(file, run(readIssues(file))))
}

if (process.argv[1] && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
