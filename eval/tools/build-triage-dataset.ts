/**
 * Builds eval/triage/{dev,heldout}.jsonl from the transcribed issues in eval/triage/raw/*.txt.
 *
 * Usage: `pnpm exec tsx eval/tools/build-triage-dataset.ts` (add `--check` to print the counts
 * without writing). The rules below are the ones SOURCES.md documents; they look only at the
 * maintainers' labels, never at the text, so the classifier's words cannot leak into the labels.
 *
 * Raw format (one file per batch of searches):
 *   ### query: <the search that found the following issues>
 *   @@@ owner/repo#123 [cut]        ("cut": the stored excerpt, or our transcription, ends early)
 *   labels: a, b, c                 (the labels line of the stored issue thread, verbatim)
 *   title: <title>
 *   <body lines, verbatim, up to the next @@@ or ### line>
 */
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export type TriageType = "bug" | "question" | "feature_request" | "incident" | "billing" | "account" | "other"
export type TriageSeverity = "critical" | "high" | "medium" | "low"

export interface RawIssue {
  readonly repo: string
  readonly number: number
  readonly cut: boolean
  readonly labels: ReadonlyArray<string>
  readonly title: string
  readonly body: string
  readonly query: string
  readonly file: string
}

export interface TriageItem {
  readonly id: string
  readonly repo: string
  readonly number: number
  readonly url: string
  readonly title: string
  readonly body: string
  readonly labels: ReadonlyArray<string>
  readonly type: TriageType
  readonly severity: TriageSeverity | null
  readonly split: "dev" | "heldout"
  /** Which labels decided the type (and severity), by which rule. */
  readonly typeRule: string
  /** How the labels were known. */
  readonly labelSource: string
  /** False when the stored excerpt (or the transcription) stops before the author's text does. */
  readonly bodyComplete: boolean
}

// ---- reading ----

export const parseRaw = (text: string, file: string): Array<RawIssue> => {
  const issues: Array<RawIssue> = []
  let query = ""
  let current: { header: string; lines: Array<string>; query: string } | undefined
  const flush = () => {
    if (!current) return
    const match = /^@@@ ([^#\s]+\/[^#\s]+)#(\d+)( cut)?$/.exec(current.header)
    if (!match) throw new Error(`${file}: bad header ${current.header}`)
    const [labelsLine, titleLine, ...bodyLines] = current.lines
    if (!labelsLine?.startsWith("labels: ") || !titleLine?.startsWith("title: ")) {
      throw new Error(`${file}: ${current.header} needs "labels:" then "title:" lines`)
    }
    issues.push({
      repo: match[1]!,
      number: Number(match[2]),
      cut: match[3] !== undefined,
      labels: labelsLine.slice("labels: ".length).split(", ").map((label) => label.trim()).filter((l) => l.length > 0),
      title: titleLine.slice("title: ".length),
      body: bodyLines.join("\n").replace(/\s+$/, ""),
      query: current.query,
      file
    })
    current = undefined
  }
  for (const line of text.split("\n")) {
    if (line.startsWith("### query: ")) {
      flush()
      query = line.slice("### query: ".length)
    } else if (line.startsWith("@@@ ")) {
      flush()
      current = { header: line.trimEnd(), lines: [], query }
    } else if (current) {
      current.lines.push(line)
    }
  }
  flush()
  return issues
}

// ---- the label rules (documented in SOURCES.md) ----

const normal = (label: string) => label.toLowerCase().trim()

/** Labels that name an incident: an outage, downtime, a degraded service, an incident (report). */
export const isIncidentLabel = (label: string) =>
  /incident|outage|downtime|degraded performance|(^|[^a-z])down($|[^a-z])/.test(normal(label))
export const isRegressionLabel = (label: string) => /regression/.test(normal(label))
export const isBillingLabel = (label: string) => /billing|payment|invoice|refund|pricing|subscription/.test(normal(label))
export const isAccountLabel = (label: string) =>
  /account|(^|[^a-z])auth($|[^a-z])|authentication|login|sign[- ]?in|2fa|mfa|password/.test(normal(label))
/** "support:core"/"support:community" (Ansible support tiers) name who maintains the code, not a support request. */
export const isQuestionLabel = (label: string) => /question|support(?!:)|guidance|how[- ]?to|(^|[^a-z])usage/.test(normal(label))
export const isFeatureLabel = (label: string) =>
  /enhancement|feature[- _]?request|feature(?![:/])|featurerq|(^|[^a-z])feat($|[^a-z:])|proposal|suggestion/.test(normal(label))
export const isBugLabel = (label: string) => /(^|[^a-z])bug|defect|crash|regression/.test(normal(label))
export const isOtherLabel = (label: string) => /documentation|(^|[^a-z])docs?($|[^a-z])/.test(normal(label))

const severityRank: Record<TriageSeverity, number> = { critical: 3, high: 2, medium: 1, low: 0 }

/** The severity a single label states, if it states one. */
export const labelSeverity = (label: string): TriageSeverity | null => {
  const l = normal(label)
  const pNumber = /(?:^|[^a-z0-9])p(?<n>[0-4])(?:$|[^0-9])/.exec(l) ?? /priority[-:/ ]*(?<n>[0-4])(?:$|[^0-9])/.exec(l)
  if (pNumber?.groups?.n !== undefined) {
    const n = Number(pNumber.groups.n)
    return n === 0 ? "critical" : n === 1 ? "high" : n === 2 ? "medium" : "low"
  }
  const sev = /(^|[^a-z])sev(?:erity)?[-: ]?([0-4])($|[^0-9])/.exec(l)
  if (sev) {
    const n = Number(sev[2])
    return n <= 1 ? "critical" : n === 2 ? "high" : n === 3 ? "medium" : "low"
  }
  if (/^(critical|blocker|urgent)$/.test(l)) return "critical"
  if (/^(high|major)$/.test(l)) return "high"
  if (/^(medium|moderate)$/.test(l)) return "medium"
  if (/^(low|minor|trivial)$/.test(l)) return "low"
  if (!/priority|prio|severity|(^|[^a-z])sev|^s-|^p-/.test(l)) return null
  if (/critical|urgent|blocker|highest|showstopper/.test(l)) return "critical"
  if (/high|major/.test(l)) return "high"
  if (/medium|normal|moderate/.test(l)) return "medium"
  if (/low|minor|trivial|tolerable/.test(l)) return "low"
  return null
}

/** The most severe level any label states, or null. */
export const severityOf = (labels: ReadonlyArray<string>): TriageSeverity | null =>
  labels
    .map(labelSeverity)
    .filter((s): s is TriageSeverity => s !== null)
    .reduce<TriageSeverity | null>((best, s) => (best === null || severityRank[s] > severityRank[best] ? s : best), null)

export type TypeDecision =
  | { readonly kind: "typed"; readonly type: TriageType; readonly rule: string }
  | { readonly kind: "unlabelled" }
  | { readonly kind: "ambiguous"; readonly types: ReadonlyArray<TriageType> }

export const typeOf = (labels: ReadonlyArray<string>): TypeDecision => {
  const matching = (test: (label: string) => boolean) => labels.filter(test)
  const quote = (ls: ReadonlyArray<string>) => ls.map((l) => `"${l}"`).join(", ")
  const incident = matching(isIncidentLabel)
  if (incident.length > 0) return { kind: "typed", type: "incident", rule: `incident label ${quote(incident)}` }
  const regression = matching(isRegressionLabel)
  if (regression.length > 0 && severityOf(labels) === "critical") {
    return { kind: "typed", type: "incident", rule: `regression label ${quote(regression)} with critical priority` }
  }
  const billing = matching(isBillingLabel)
  if (billing.length > 0) return { kind: "typed", type: "billing", rule: `billing label ${quote(billing)}` }
  const account = matching(isAccountLabel)
  if (account.length > 0) return { kind: "typed", type: "account", rule: `account label ${quote(account)}` }
  const found: Array<[TriageType, Array<string>]> = (
    [
      ["question", matching(isQuestionLabel)],
      ["feature_request", matching(isFeatureLabel)],
      ["bug", matching(isBugLabel)],
      ["other", matching(isOtherLabel)]
    ] as Array<[TriageType, Array<string>]>
  ).filter(([, ls]) => ls.length > 0)
  if (found.length === 0) return { kind: "unlabelled" }
  if (found.length > 1) return { kind: "ambiguous", types: found.map(([t]) => t) }
  const [type, ls] = found[0]!
  return { kind: "typed", type, rule: `${type} label ${quote(ls)}` }
}

// ---- split by repository ----

const hashOf = (repo: string) => createHash("sha1").update(`nestfleet-triage-split:${repo.toLowerCase()}`).digest("hex")

/**
 * Repositories, not issues, are split, so no project is in both parts. Repositories are grouped
 * by their most common type (so both parts get incidents, questions, ...) and ordered by a fixed
 * hash within each group; walking that order, a repository goes to held-out while held-out has
 * less than `heldoutShare` of the group's issues so far, else to dev. The split is a function of
 * the repository set and issue counts only (no classifier output is involved).
 */
export const heldoutShare = 0.38

export const splitRepos = (typesByRepo: ReadonlyMap<string, ReadonlyArray<TriageType>>): Map<string, "dev" | "heldout"> => {
  const strata = new Map<TriageType, Array<string>>()
  for (const [repo, types] of typesByRepo) {
    const counts = new Map<TriageType, number>()
    for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1)
    const major = [...counts].toSorted((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]![0]
    strata.set(major, [...(strata.get(major) ?? []), repo])
  }
  const split = new Map<string, "dev" | "heldout">()
  for (const repos of strata.values()) {
    let heldout = 0
    let assigned = 0
    for (const repo of repos.toSorted((a, b) => hashOf(a).localeCompare(hashOf(b)))) {
      const n = typesByRepo.get(repo)!.length
      const part = assigned > 0 && heldout / assigned < heldoutShare ? "heldout" : "dev"
      split.set(repo, part)
      if (part === "heldout") heldout += n
      assigned += n
    }
  }
  return split
}

// ---- building ----

export const maxPerRepo = 12
export const maxBodyChars = 4000

export interface BuildReport {
  readonly items: ReadonlyArray<TriageItem>
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly reason: string }>
}

export const build = (raw: ReadonlyArray<RawIssue>): BuildReport => {
  const skipped: Array<{ id: string; reason: string }> = []
  const seen = new Set<string>()
  const perRepo = new Map<string, number>()
  const typed: Array<{ issue: RawIssue; type: TriageType; rule: string }> = []
  for (const issue of raw) {
    const id = `${issue.repo}#${issue.number}`
    if (seen.has(id)) {
      skipped.push({ id, reason: "duplicate" })
      continue
    }
    seen.add(id)
    const decision = typeOf(issue.labels)
    if (decision.kind === "unlabelled") {
      skipped.push({ id, reason: "no type label" })
      continue
    }
    if (decision.kind === "ambiguous") {
      skipped.push({ id, reason: `labels name several types: ${decision.types.join(", ")}` })
      continue
    }
    const count = perRepo.get(issue.repo) ?? 0
    if (count >= maxPerRepo) {
      skipped.push({ id, reason: `more than ${maxPerRepo} from ${issue.repo}` })
      continue
    }
    perRepo.set(issue.repo, count + 1)
    typed.push({ issue, type: decision.type, rule: decision.rule })
  }
  const typesByRepo = new Map<string, Array<TriageType>>()
  for (const { issue, type } of typed) typesByRepo.set(issue.repo, [...(typesByRepo.get(issue.repo) ?? []), type])
  const split = splitRepos(typesByRepo)
  const items = typed.map(({ issue, rule, type }): TriageItem => {
    const severity = severityOf(issue.labels)
    const severityLabels = issue.labels.filter((l) => labelSeverity(l) !== null)
    const tooLong = issue.body.length > maxBodyChars
    return {
      id: `${issue.repo}#${issue.number}`,
      repo: issue.repo,
      number: issue.number,
      url: `https://github.com/${issue.repo}/issues/${issue.number}`,
      title: issue.title,
      body: tooLong ? issue.body.slice(0, maxBodyChars) : issue.body,
      labels: issue.labels,
      type,
      severity,
      split: split.get(issue.repo)!,
      typeRule: severity === null ? rule : `${rule}; severity from ${severityLabels.map((l) => `"${l}"`).join(", ")}`,
      labelSource: `labels line of the stored GitHub issue thread (search tool, issues corpus; query: "${issue.query}")`,
      bodyComplete: !issue.cut && !tooLong
    }
  })
  return { items, skipped }
}

const main = () => {
  const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "triage")
  const rawDir = Path.join(root, "raw")
  const files = Fs.readdirSync(rawDir).filter((f) => f.endsWith(".txt")).toSorted()
  const raw = files.flatMap((f) => parseRaw(Fs.readFileSync(Path.join(rawDir, f), "utf8"), f))
  const { items, skipped } = build(raw)
  const table = (part: ReadonlyArray<TriageItem>) => {
    const counts = new Map<string, number>()
    for (const item of part) counts.set(item.type, (counts.get(item.type) ?? 0) + 1)
    return [...counts].toSorted((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n}`).join(", ")
  }
  for (const split of ["dev", "heldout"] as const) {
    const part = items.filter((i) => i.split === split)
    const repos = new Set(part.map((i) => i.repo))
    const withSeverity = part.filter((i) => i.severity !== null).length
    console.log(`${split}: ${part.length} issues from ${repos.size} repositories (${withSeverity} with severity): ${table(part)}`)
  }
  console.log(`repositories in all: ${new Set(items.map((i) => i.repo)).size}; skipped: ${skipped.length}`)
  for (const s of skipped) console.log(`  skipped ${s.id}: ${s.reason}`)
  if (process.argv.includes("--check")) return
  for (const split of ["dev", "heldout"] as const) {
    const lines = items.filter((i) => i.split === split).map((i) => JSON.stringify(i))
    Fs.writeFileSync(Path.join(root, `${split}.jsonl`), lines.join("\n") + "\n")
  }
}

if (process.argv[1] && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
