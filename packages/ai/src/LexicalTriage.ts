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
    ["broke", 1.5],
    ["breaks", 1.5],
    ["blows up", 2],
    ["fails", 1.5],
    ["failed", 1],
    ["failing", 1.5],
    ["doesn't work", 2],
    ["does not work", 2],
    ["not working", 2],
    ["stopped working", 2],
    ["does nothing", 2],
    ["doesn't do anything", 2],
    ["nothing happens", 2],
    ["something went wrong", 2.5],
    ["stack trace", 2.5],
    ["traceback", 2.5],
    ["uncaught", 2],
    ["typeerror", 2.5],
    ["console", 0.5],
    ["regression", 2.5],
    ["wrong", 1],
    ["incorrect", 1.5],
    ["instead of", 1.5],
    ["ignores", 1.5],
    ["ignored", 1.5],
    ["truncated", 1.5],
    ["cut off", 1.5],
    ["clipped", 1.5],
    ["misaligned", 1.5],
    ["overlaps", 1.5],
    ["cosmetic", 1.5],
    ["unexpected", 1],
    ["expected", 1],
    ["glitch", 1.5],
    ["freezes", 1.5],
    ["frozen", 1.5],
    ["hangs", 1.5],
    ["stuck", 1.5],
    ["keeps showing", 1.5],
    ["still shows", 1.5],
    ["duplicated", 1.5],
    ["twice", 1],
    ["reload", 1],
    ["workaround", 1.5],
    ["missing", 1],
    ["drops", 1],
    ["empty", 1],
    ["disappears", 1.5],
    ["not showing", 1.5],
    ["doesn't show", 1.5],
    ["not loading", 1.5],
    ["won't load", 1.5],
    ["render", 1],
    ["renders", 1],
    ["safari", 1],
    ["firefox", 1],
    ["chrome", 1],
    ["android", 1],
    ["ios", 1],
    ["iphone", 1],
    ["since updating", 2],
    ["after updating", 2],
    ["since the update", 2],
    ["after the update", 2],
    ["typo", 2],
    ["spelling", 1.5],
    ["misspelled", 2],
    ["steps to reproduce", 3],
    ["reproduce", 1.5],
    ["null", 1],
    ["undefined", 1],
    ["blank page", 2],
    ["blank screen", 2],
    ["500", 1.5]
  ],
  incident: [
    ["outage", 3.5],
    ["is down", 3],
    ["are down", 3],
    ["went down", 3],
    ["down for", 2.5],
    ["down since", 2.5],
    ["unavailable", 2.5],
    ["unreachable", 3],
    ["not responding", 2.5],
    ["nothing loads", 2],
    ["health check", 1.5],
    ["all of us", 1],
    ["all users", 2],
    ["all agents", 2],
    ["every agent", 2],
    ["everyone", 1],
    ["nobody can", 2.5],
    ["none of our", 2],
    ["none of the", 1.5],
    ["all of our", 1],
    ["all our", 1],
    ["all requests", 2],
    ["every page", 1.5],
    ["500s", 2],
    ["every request", 2],
    ["every call", 2],
    ["whole team", 1],
    ["whole company", 1],
    ["entire", 1],
    ["production", 1.5],
    ["degraded", 2.5],
    ["slow", 1.5],
    ["very slow", 2],
    ["extremely slow", 2.5],
    ["delayed", 2],
    ["timeouts", 2],
    ["timing out", 2],
    ["time out", 2],
    ["times out", 2],
    ["timed out", 2],
    ["standstill", 2.5],
    ["maintenance", 1.5],
    ["status page", 2],
    ["bad gateway", 2.5],
    ["502", 2],
    ["503", 2],
    ["504", 2],
    ["data loss", 3],
    ["lost data", 3],
    ["vanished", 2],
    ["leaking", 2.5],
    ["leak", 2.5],
    ["breach", 3],
    ["security", 2],
    ["privacy", 2],
    ["incident", 3],
    ["sev1", 3],
    ["p1", 2]
  ],
  question: [
    ["how do i", 3],
    ["how can i", 3],
    ["how do we", 3],
    ["how to", 2.5],
    ["how does", 2],
    ["how long", 2],
    ["how many", 2],
    ["is it possible", 2.5],
    ["is there a way", 3],
    ["is there", 1.5],
    ["any way to", 2.5],
    ["can i", 1.5],
    ["can we", 1.5],
    ["do you", 1.5],
    ["does it", 1.5],
    ["what is", 1.5],
    ["what are", 1.5],
    ["where can", 2],
    ["where do i", 2.5],
    ["where is", 1.5],
    ["why does", 1.5],
    ["difference between", 2],
    ["best way", 2],
    ["documentation", 1.5],
    ["docs", 1],
    ["help center", 1.5],
    ["question", 2.5],
    ["wondering", 2],
    ["curious", 1.5],
    ["clarify", 1.5],
    ["explain", 1.5],
    // A question mark alone outweighs the baseline for "other": a message that asks something is a question.
    ["?", 1.3]
  ],
  feature_request: [
    ["feature", 2.5],
    ["feature request", 3.5],
    ["would be nice", 3],
    ["would be great", 3],
    ["would be useful", 3],
    ["would be helpful", 3],
    ["would be good", 3],
    ["would help", 2.5],
    ["would really help", 2.5],
    ["would make", 1.5],
    ["would solve", 2],
    ["would love", 2.5],
    ["we'd love", 2.5],
    ["i'd love", 2.5],
    ["love to see", 3],
    ["please add", 3],
    ["please consider", 3],
    ["would you consider", 3],
    ["consider adding", 3],
    ["add support", 3],
    ["support for", 1.5],
    ["suggestion", 2.5],
    ["idea", 2],
    ["enhancement", 3],
    ["improvement", 2],
    ["roadmap", 2],
    ["any plans", 3],
    ["plans to", 2],
    ["planned", 2],
    ["wish", 1.5],
    ["could you add", 3],
    ["if we could", 2],
    ["let us", 2],
    ["allow", 1.5],
    ["allowing", 1.5],
    ["ability to", 2],
    ["be able to", 2],
    ["integration with", 2],
    ["customise", 1.5],
    ["customize", 1.5],
    ["in bulk", 2],
    ["dark mode", 2],
    ["dark theme", 2],
    ["option to", 1.5]
  ],
  billing: [
    ["invoice", 3],
    ["invoices", 3],
    ["billing", 3],
    ["billed", 3],
    ["bill", 2.5],
    ["bills", 2.5],
    ["charged", 3],
    ["charge", 2],
    ["charged twice", 3],
    ["refund", 3.5],
    ["payment", 2.5],
    ["payments", 2.5],
    ["pay", 1.5],
    ["paid", 1.5],
    ["unpaid", 2.5],
    ["credit card", 3],
    ["card", 1.5],
    ["bank", 1.5],
    ["money", 2],
    ["amount", 1],
    ["subscription", 2],
    ["renewal", 2],
    ["pricing", 2],
    ["price", 1.5],
    ["cost", 1.5],
    ["discount", 2],
    ["coupon", 2],
    ["receipt", 2.5],
    ["vat", 2],
    ["tax", 2],
    ["prorated", 2.5],
    ["credit", 1.5],
    ["checkout", 2],
    ["purchase order", 2],
    ["overcharged", 3.5],
    ["seats", 1.5],
    ["annual", 1.5],
    ["yearly", 1.5],
    ["monthly", 1],
    ["cancel", 1.5],
    ["plan", 1],
    ["upgrade", 1],
    ["downgrade", 1.5]
  ],
  account: [
    ["log in", 2.5],
    ["login", 2.5],
    ["logging in", 2.5],
    ["sign in", 2.5],
    ["sign-in", 2.5],
    ["signing in", 2.5],
    ["get back into", 2.5],
    ["password", 2.5],
    ["reset password", 3],
    ["password reset", 3],
    ["2fa", 3],
    ["mfa", 3],
    ["two-factor", 3],
    ["authenticator", 2.5],
    ["locked out", 3.5],
    ["unlock", 2],
    ["my account", 2.5],
    ["account", 1.5],
    ["accounts", 1.5],
    ["ownership", 2],
    ["owner", 1],
    ["username", 2],
    ["display name", 2],
    ["profile", 1],
    ["sso", 2.5],
    ["saml", 2.5],
    ["identity provider", 2],
    ["permissions", 2],
    ["role", 1.5],
    ["admin", 1],
    ["access denied", 2],
    ["invite", 1.5],
    ["invited", 1.5],
    ["invitation", 1.5],
    ["invitations", 1.5],
    ["deactivate", 2],
    ["deactivated", 2],
    ["delete my account", 3.5],
    ["personal data", 1.5],
    ["gdpr", 2],
    ["verify my email", 3],
    ["verification email", 3],
    ["change my email", 3]
  ]
}

/** Evidence for "other": what is left when nothing speaks for a type. */
const otherBaseline = 1.2

/** Question evidence from which a billing or account message counts as a how-to. */
const howToEvidence = 2.5

/**
 * Severity cues. `grave` words make any problem type critical; `scope` words (everyone, the
 * whole team) make an incident critical but only raise other types to high, since a bug for
 * everyone is still a bug; `degraded` words keep an incident at high unless a grave word
 * says more: slow for everyone is not down for everyone.
 */
const severityCues: Record<"grave" | "scope" | "degraded" | "high" | "low", Lexicon> = {
  grave: [
    ["outage", 1],
    ["data loss", 1],
    ["lost data", 1],
    ["breach", 1],
    ["security", 1],
    ["vulnerability", 1],
    ["privacy", 1],
    ["leaking", 1],
    ["production is down", 1],
    ["completely down", 1],
    ["completely unreachable", 1],
    ["standstill", 1],
    ["sev1", 1],
    ["emergency", 1]
  ],
  scope: [
    ["all users", 1],
    ["all agents", 1],
    ["every agent", 1],
    ["all customers", 1],
    ["everyone", 1],
    ["nobody can", 1],
    ["none of our", 1],
    ["none of the", 1],
    ["all of our", 1],
    ["every request", 1],
    ["all our", 1],
    ["all requests", 1],
    ["all of us", 1],
    ["every call", 1],
    ["whole team", 1],
    ["whole company", 1],
    ["entire", 1]
  ],
  degraded: [
    ["slow", 1],
    ["very slow", 1],
    ["extremely slow", 1],
    ["delayed", 1],
    ["degraded", 1],
    ["intermittent", 1],
    ["intermittently", 1]
  ],
  high: [
    ["crash", 1],
    ["crashes", 1],
    ["freezes", 1],
    ["losing", 1],
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
    ["charged again", 1],
    ["double charged", 1],
    ["charged after", 1],
    ["locked out", 1],
    ["get back into", 1],
    ["access denied", 1],
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
  // Constants fitted so that, over a labelled corpus, mean confidence tracks accuracy while a
  // message with no evidence stays well under 0.5.
  const temperature = 0.75
  const exps = scored.map((entry) => Math.exp(entry.score / temperature))
  const share = exps[0]! / exps.reduce((a, b) => a + b, 0)
  const evidence = 1 - Math.exp(-best.score / 2)
  const confidence = round(Math.min(0.97, Math.max(0.05, share * (0.7 + 0.3 * evidence))))

  const cues = {
    grave: matchLexicon(severityCues.grave, subject, body),
    scope: matchLexicon(severityCues.scope, subject, body),
    degraded: matchLexicon(severityCues.degraded, subject, body),
    high: matchLexicon(severityCues.high, subject, body),
    low: matchLexicon(severityCues.low, subject, body)
  }
  const usual = usualSeverity[best.type]
  const isProblem = best.type === "incident" || best.type === "bug" || best.type === "account" ||
    best.type === "billing"
  const critical = !isProblem
    ? []
    : cues.grave.length > 0
    ? cues.grave
    : best.type === "incident" && cues.degraded.length === 0
    ? cues.scope
    : []
  const high = isProblem ? [...cues.high, ...cues.scope] : cues.high
  // A billing or account message that mostly asks how to do something reports nothing broken.
  const question = scored.find((entry) => entry.type === "question")!
  const asking = (best.type === "billing" || best.type === "account") && question.score >= howToEvidence
  const severity: Severity = critical.length > 0
    ? "critical"
    : high.length > 0 && (usual === "medium" || usual === "high" || high.length >= 2)
    ? "high"
    : cues.low.length > 0 && high.length === 0
    ? "low"
    : asking && high.length === 0
    ? "low"
    : usual
  const severityDetail = severity === usual
    ? `${usual} is usual for ${best.type.replace("_", " ")}` +
      (critical.length + high.length + cues.low.length === 0 ? "; no cue words moved it" : "")
    : `${usual} is usual for ${best.type.replace("_", " ")}; moved to ${severity} by ${
      severity === "low" && cues.low.length === 0
        ? `asking how (${describe(question.matches)}) with nothing broken`
        : describe(severity === "critical" ? critical : severity === "high" ? high : cues.low)
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
      evidence: (severity === "critical"
        ? critical
        : severity === "high"
        ? high
        : severity === "low" && severity !== usual
        ? cues.low.length > 0 ? cues.low : question.matches
        : []).map((match) => match.term)
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
