/**
 * Triage without a model: a lexical classifier for a support message's type and severity.
 *
 * Each type has a lexicon of words and phrases with weights; a match in the subject counts
 * more than one in the body, and repeats add less and less. The type with the most evidence
 * wins. Confidence grows with the margin over the runner-up and with the amount of evidence,
 * so a message that says little ("hi, quick thing") gets a low confidence and goes to a
 * person. Severity starts from the type's usual level and moves with cue words. Every step
 * names the words that drove it.
 */
import type { CaseType, Severity } from "@nestfleet/domain/Cases"

type Lexicon = ReadonlyArray<readonly [term: string, weight: number]>

const typeLexicons: Record<Exclude<CaseType, "other">, Lexicon> = {
  bug: [
    ["bug", 2],
    ["error", 1.5],
    ["errors", 1.5],
    ["exception", 2],
    ["crash", 2],
    ["crashes", 2],
    ["crashed", 2],
    ["broken", 1.5],
    ["fails", 1.5],
    ["failed", 1],
    ["failing", 1.5],
    ["doesn't work", 2],
    ["does not work", 2],
    ["not working", 2],
    ["stopped working", 2],
    ["stack trace", 2.5],
    ["traceback", 2.5],
    ["regression", 2.5],
    ["wrong", 1],
    ["incorrect", 1.5],
    ["unexpected", 1],
    ["glitch", 1.5],
    ["freezes", 1.5],
    ["hangs", 1.5],
    ["typo", 2],
    ["spelling", 1.5],
    ["misspelled", 2],
    ["steps to reproduce", 3],
    ["reproduce", 1.5],
    ["null", 1],
    ["undefined", 1],
    ["blank page", 2],
    ["500", 1.5]
  ],
  incident: [
    ["outage", 3.5],
    ["is down", 3],
    ["are down", 3],
    ["went down", 3],
    ["down for", 2.5],
    ["unavailable", 2.5],
    ["all users", 2],
    ["everyone", 1.5],
    ["nobody can", 2.5],
    ["production", 1.5],
    ["degraded", 2.5],
    ["timeouts", 2],
    ["timing out", 2],
    ["status page", 2],
    ["502", 2],
    ["503", 2],
    ["data loss", 3],
    ["lost data", 3],
    ["breach", 3],
    ["incident", 3],
    ["sev1", 3],
    ["p1", 2]
  ],
  question: [
    ["how do i", 3],
    ["how can i", 3],
    ["how to", 2.5],
    ["how does", 2],
    ["is it possible", 2.5],
    ["can i", 1.5],
    ["what is", 1.5],
    ["where can", 2],
    ["where is", 1.5],
    ["why does", 1.5],
    ["documentation", 1.5],
    ["docs", 1],
    ["question", 2.5],
    ["wondering", 2],
    ["clarify", 1.5],
    ["explain", 1.5],
    ["?", 0.5]
  ],
  feature_request: [
    ["feature", 2.5],
    ["feature request", 3.5],
    ["would be nice", 3],
    ["would be great", 3],
    ["would love", 2.5],
    ["please add", 3],
    ["add support", 3],
    ["support for", 1.5],
    ["suggestion", 2.5],
    ["enhancement", 3],
    ["roadmap", 2],
    ["wish", 1.5],
    ["could you add", 3],
    ["ability to", 2],
    ["integration with", 2],
    ["dark mode", 2],
    ["option to", 1.5]
  ],
  billing: [
    ["invoice", 3],
    ["invoices", 3],
    ["billing", 3],
    ["billed", 3],
    ["charged", 3],
    ["charge", 2],
    ["charged twice", 3],
    ["refund", 3.5],
    ["payment", 2.5],
    ["credit card", 3],
    ["subscription", 2],
    ["pricing", 2],
    ["price", 1.5],
    ["receipt", 2.5],
    ["vat", 2],
    ["overcharged", 3.5],
    ["plan", 1],
    ["upgrade", 1],
    ["downgrade", 1.5]
  ],
  account: [
    ["log in", 2.5],
    ["login", 2.5],
    ["sign in", 2.5],
    ["password", 2.5],
    ["reset password", 3],
    ["2fa", 3],
    ["two-factor", 3],
    ["locked out", 3.5],
    ["my account", 2.5],
    ["account", 1.5],
    ["username", 2],
    ["sso", 2.5],
    ["permissions", 2],
    ["access denied", 2],
    ["invite", 1.5],
    ["delete my account", 3.5],
    ["verify my email", 3],
    ["verification email", 3],
    ["change my email", 3]
  ]
}

/** Evidence for "other": what is left when nothing speaks for a type. */
const otherBaseline = 1.2

const severityCues: Record<"critical" | "high" | "low", Lexicon> = {
  critical: [
    ["outage", 1],
    ["data loss", 1],
    ["lost data", 1],
    ["breach", 1],
    ["security", 1],
    ["vulnerability", 1],
    ["all users", 1],
    ["everyone", 1],
    ["nobody can", 1],
    ["production is down", 1],
    ["completely down", 1],
    ["sev1", 1],
    ["emergency", 1]
  ],
  high: [
    ["crash", 1],
    ["crashes", 1],
    ["cannot", 1],
    ["can't", 1],
    ["unable", 1],
    ["blocked", 1],
    ["blocking", 1],
    ["urgent", 1],
    ["asap", 1],
    ["production", 1],
    ["charged twice", 1],
    ["overcharged", 1],
    ["locked out", 1],
    ["many users", 1],
    ["customers", 1],
    ["500", 1]
  ],
  low: [
    ["typo", 1],
    ["spelling", 1],
    ["misspelled", 1],
    ["cosmetic", 1],
    ["minor", 1],
    ["nice to have", 1],
    ["when you have time", 1],
    ["no rush", 1],
    ["small thing", 1]
  ]
}

const usualSeverity: Record<CaseType, Severity> = {
  incident: "high",
  bug: "medium",
  billing: "medium",
  account: "medium",
  question: "low",
  feature_request: "low",
  other: "low"
}

export interface ReasoningStep {
  readonly step: string
  readonly detail: string
  readonly evidence: ReadonlyArray<string>
}

export interface LexicalTriageResult {
  readonly type: CaseType
  readonly severity: Severity
  readonly confidence: number
  readonly summary: string
  readonly reasoning: ReadonlyArray<ReasoningStep>
}

interface Match {
  readonly term: string
  readonly count: number
  readonly inSubject: boolean
  readonly score: number
}

const escape = (term: string) => term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Matches on word boundaries (a term like "?" or "500" too), case-insensitive. */
const pattern = (term: string) =>
  /^\W+$/.test(term) ? new RegExp(escape(term), "g") : new RegExp(`(?<![\\w'-])${escape(term)}(?![\\w'-])`, "g")

const compiled = new Map<string, RegExp>()
const count = (text: string, term: string) => {
  let regex = compiled.get(term)
  if (regex === undefined) {
    regex = pattern(term)
    compiled.set(term, regex)
  }
  regex.lastIndex = 0
  return text.match(regex)?.length ?? 0
}

const normalize = (text: string) => text.toLowerCase().replace(/[’‘]/g, "'").replace(/\s+/g, " ")

/** Subject words count 1.5×; each repeat of a term adds less (1, 1.5, 1.83, …: log growth). */
const matchLexicon = (lexicon: Lexicon, subject: string, body: string): Array<Match> =>
  lexicon.flatMap(([term, weight]) => {
    const inSubject = count(subject, term)
    const inBody = count(body, term)
    const total = inSubject + inBody
    if (total === 0) return []
    const score = weight * (1 + Math.log(total)) * (inSubject > 0 ? 1.5 : 1)
    return [{ term, count: total, inSubject: inSubject > 0, score }]
  })

const sum = (matches: ReadonlyArray<Match>) => matches.reduce((total, match) => total + match.score, 0)

const describe = (matches: ReadonlyArray<Match>) =>
  matches
    .toSorted((a, b) => b.score - a.score)
    .slice(0, 6)
    .map((match) => `"${match.term}"${match.count > 1 ? ` ×${match.count}` : ""}${match.inSubject ? " (subject)" : ""}`)
    .join(", ")

const round = (value: number) => Math.round(value * 100) / 100

const label: Record<CaseType, string> = {
  bug: "Bug report",
  incident: "Incident",
  question: "Question",
  feature_request: "Feature request",
  billing: "Billing issue",
  account: "Account issue",
  other: "Message"
}

export const classify = (input: { readonly subject: string; readonly body: string }): LexicalTriageResult => {
  const subject = normalize(input.subject)
  const body = normalize(input.body)
  const words = `${subject} ${body}`.split(/\s+/).filter((word) => word.length > 0).length

  const scored = (Object.keys(typeLexicons) as Array<Exclude<CaseType, "other">>)
    .map((type) => {
      const matches = matchLexicon(typeLexicons[type], subject, body)
      return { type: type as CaseType, matches, score: sum(matches) }
    })
    .concat([{ type: "other", matches: [], score: otherBaseline }])
    .toSorted((a, b) => b.score - a.score)
  const [best, second] = scored as [typeof scored[number], typeof scored[number]]

  // Softmax over the evidence: the winner's share, then discounted when the evidence is thin.
  const temperature = 1.5
  const exps = scored.map((entry) => Math.exp(entry.score / temperature))
  const share = exps[0]! / exps.reduce((a, b) => a + b, 0)
  const evidence = 1 - Math.exp(-best.score / 4)
  const confidence = round(Math.min(0.97, Math.max(0.05, share * (0.55 + 0.45 * evidence))))

  const cues = {
    critical: matchLexicon(severityCues.critical, subject, body),
    high: matchLexicon(severityCues.high, subject, body),
    low: matchLexicon(severityCues.low, subject, body)
  }
  const usual = usualSeverity[best.type]
  const canBeCritical = best.type === "incident" || best.type === "bug" || best.type === "account" ||
    best.type === "billing"
  const severity: Severity = cues.critical.length > 0 && canBeCritical
    ? "critical"
    : cues.high.length > 0 && (usual === "medium" || usual === "high" || cues.high.length >= 2)
    ? "high"
    : cues.low.length > 0 && cues.high.length === 0
    ? "low"
    : usual
  const severityDetail = severity === usual
    ? `${usual} is usual for ${best.type.replace("_", " ")}` +
      (cues.high.length + cues.low.length + cues.critical.length === 0 ? "; no cue words moved it" : "")
    : `${usual} is usual for ${best.type.replace("_", " ")}; moved to ${severity} by ${
      describe(severity === "critical" ? cues.critical : severity === "high" ? cues.high : cues.low)
    }`

  const firstLine = input.body.trim().split(/(?<=[.!?])\s|\n/, 1)[0]?.trim() ?? ""
  const about = input.subject.trim() || firstLine
  const summary = `${label[best.type]}: ${about.length > 160 ? `${about.slice(0, 157)}...` : about}`

  const reasoning: Array<ReasoningStep> = [
    {
      step: "Read the message",
      detail: `${words} words, subject included; subject words count 1.5×`,
      evidence: []
    },
    best.type === "other"
      ? {
        step: "Type: other",
        detail: second.score > 0
          ? `The strongest type, ${second.type.replace("_", " ")} (${round(second.score)}: ${describe(second.matches)}), ` +
            `was weaker than the baseline for "other" (${otherBaseline})`
          : "No words of any type's lexicon appear",
        evidence: second.matches.map((match) => match.term)
      }
      : {
        step: `Type: ${best.type.replace("_", " ")}`,
        detail: `Evidence ${round(best.score)} from ${describe(best.matches)}; next: ${
          second.type.replace("_", " ")
        } with ${round(second.score)}`,
        evidence: best.matches.map((match) => match.term)
      },
    {
      step: `Severity: ${severity}`,
      detail: severityDetail,
      evidence: [...cues.critical, ...cues.high, ...cues.low].map((match) => match.term)
    },
    {
      step: `Confidence: ${confidence}`,
      detail: `${Math.round(share * 100)}% of the evidence weight for ${best.type.replace("_", " ")}, ` +
        `discounted for ${evidence < 0.5 ? "thin" : evidence < 0.85 ? "moderate" : "ample"} evidence`,
      evidence: []
    }
  ]

  return { type: best.type, severity, confidence, summary, reasoning }
}
