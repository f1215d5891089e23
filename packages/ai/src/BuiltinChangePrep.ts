/**
 * The builtin provider's change-prep: grounded heuristics, nothing the messages and the
 * product's components do not say. Reproduction steps are the report's own (a "steps to
 * reproduce" section, else its numbered lines; none when it has none); a component is
 * suspected when the messages name one of its paths or share words with its name and
 * description; surfaces are what the messages speak of; risk follows the severity and what the
 * change would touch (stored data and sign-in weigh most).
 */
import type { ChangePrepInput, ChangePrepOutput } from "./ChangePrepTask.js"
import * as ContentWords from "./ContentWords.js"

export const maxComponents = 3
export const maxSteps = 10

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`)

const listItem = /^\s*(?:\d+[.)]|[-*•])\s+(.+)$/

/** The report's own steps: the list under a "steps to reproduce" heading, else its numbered lines. */
export const reproductionOf = (text: string): Array<string> => {
  const lines = text.split(/\r?\n/)
  const heading = lines.findIndex((line) => /\b(steps to reproduce|to reproduce|reproduction|repro steps|how to reproduce)\b/i.test(line))
  if (heading >= 0) {
    const steps: Array<string> = []
    for (const line of lines.slice(heading + 1)) {
      const item = listItem.exec(line)
      if (item !== null) steps.push(item[1]!.trim())
      else if (steps.length > 0 && (line.trim() === "" || /^#+\s/.test(line))) break
    }
    if (steps.length > 0) return steps.slice(0, maxSteps).map((step) => clip(step, 300))
  }
  return lines.flatMap((line) => /^\s*\d+[.)]\s+(.+)$/.exec(line)?.[1]?.trim() ?? []).slice(0, maxSteps).map((step) => clip(step, 300))
}

/** Path-like strings of the messages: `src/export/csv.ts`, `packages/api/`. */
const pathsOf = (text: string) => [...new Set(text.match(/[\w.@-]+(?:\/[\w.@-]+)+\/?/g) ?? [])]

const hintStem = (hint: string) => hint.replace(/\*+.*$/, "").replace(/^\.?\//, "").replace(/\/+$/, "")

export const suspectedComponents = (input: ChangePrepInput, text: string) => {
  const words = ContentWords.of(text)
  const paths = pathsOf(text)
  return input.components
    .map((component) => {
      const named = component.pathHints.filter((hint) => hintStem(hint) !== "" && paths.some((path) => path.includes(hintStem(hint))))
      const shared = [...ContentWords.of(`${component.name} ${component.description}`)].filter((word) => words.has(word))
      const why = [
        named.length > 0 ? `the messages name ${named.map((hint) => `\`${hint}\``).join(", ")}` : "",
        shared.length > 0 ? `the messages say ${shared.slice(0, 4).map((word) => `"${word}"`).join(", ")}` : ""
      ].filter(Boolean).join("; ")
      return { name: component.name, why, score: 3 * named.length + shared.length }
    })
    .filter((component) => component.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, maxComponents)
}

const surfaceCues: ReadonlyArray<readonly [string, RegExp]> = [
  ["API", /\bapi\b|\bendpoint|\b(?:GET|POST|PUT|PATCH|DELETE)\s+\/|\bstatus code\b|\bHTTP [45]\d\d\b/i],
  ["web UI", /\bbutton\b|\bpage\b|\bscreen\b|\bbrowser\b|\bclick|\bdashboard\b/i],
  ["email", /\be-?mails?\b|\bsmtp\b|\binbox\b/i],
  ["sign-in", /\blog ?in\b|\bsign ?in\b|\bsso\b|\bsaml\b|\bpassword\b|\b2fa\b|\bauth/i],
  ["exports", /\bexports?\b|\bcsv\b|\bdownload/i],
  ["webhooks", /\bwebhooks?\b/i],
  ["stored data", /\bdatabase\b|\bpostgres|\bsql\b|\bmigration\b|\bdata loss\b|\bcorrupt/i],
  ["performance", /\bslow\b|\btimeouts?\b|\btimed out\b|\blatency\b|\bstuck\b|\bhangs?\b/i],
  ["mobile app", /\bios\b|\bandroid\b|\bmobile\b/i],
  ["CLI", /\bcli\b|\bcommand line\b|\bterminal\b/i]
]

const levels = ["low", "medium", "high"] as const
type Level = typeof levels[number]
const higher = (a: Level, b: Level): Level => levels[Math.max(levels.indexOf(a), levels.indexOf(b))]!

export const riskOf = (input: ChangePrepInput, surfaces: ReadonlyArray<string>, components: number) => {
  const reasons: Array<string> = []
  let level: Level = "low"
  const bySeverity: Record<string, Level> = { critical: "high", high: "high", medium: "medium", low: "low" }
  if (input.severity !== null) {
    level = higher(level, bySeverity[input.severity]!)
    reasons.push(`triage rated it ${input.severity}`)
  }
  if (input.type === "incident") {
    level = higher(level, "high")
    reasons.push("an incident: customers are affected while it lasts")
  }
  if (surfaces.includes("stored data")) {
    level = higher(level, "high")
    reasons.push("it may touch stored data")
  }
  if (surfaces.includes("sign-in")) {
    level = higher(level, "medium")
    reasons.push("it touches sign-in")
  }
  if (components > 1) {
    level = higher(level, "medium")
    reasons.push(`${components} components are suspected`)
  }
  if (reasons.length === 0) reasons.push("nothing in the report points at a risky part")
  return { level, reasons }
}

const sentences = (text: string) => text.replace(/```[\s\S]*?```/g, " ").split(/(?<=[.!?])\s+|\n+/).map((s) => s.trim()).filter(Boolean)

export const prepare = (input: ChangePrepInput): ChangePrepOutput => {
  const text = [input.subject, ...input.messages].join("\n")
  const reproduction = reproductionOf(input.messages.join("\n"))
  const suspected = suspectedComponents(input, text)
  const cued = surfaceCues.filter(([, cue]) => cue.test(text)).map(([surface]) => surface)
  /** The task's answer holds at most 10. */
  const surfaces = [...new Set([...suspected.map((component) => component.name), ...cued])].slice(0, 10)
  const risk = riskOf(input, surfaces, suspected.length)
  const what = input.type === "incident" ? "An incident" : "A bug"
  const said = clip(sentences(input.messages[0] ?? input.subject).slice(0, 2).join(" "), 400)
  const hints = input.components.filter((component) => suspected.some((s) => s.name === component.name))
  return {
    title: clip(/^fix\b/i.test(input.subject) ? input.subject : `Fix: ${input.subject}`, 100),
    summary: `${what}${input.severity === null ? "" : ` (${input.severity})`} reported by a customer: ${said}`,
    reproduction,
    components: suspected.map(({ name, why }) => ({ name, why })),
    surfaces: surfaces.length === 0 ? ["Not clear from the report"] : surfaces,
    risk,
    testPlan: [
      `Add a regression test that fails before the fix: ${reproduction[0] ?? clip(sentences(input.messages[0] ?? input.subject)[0] ?? input.subject, 200)}`,
      ...hints.map((component) => `Run ${component.name}'s tests${component.pathHints.length === 0 ? "" : ` (${component.pathHints.join(", ")})`}`),
      reproduction.length > 0
        ? "Follow the reproduction steps against a build with the fix"
        : "Confirm the fix with the customer's scenario (the report gives no steps: ask for them)"
    ],
    rollback: surfaces.includes("stored data")
      ? "Revert the pull request; if it changes the database schema, ship a forward fix or the reverse migration first"
      : "Revert the pull request; it changes no stored data"
  }
}
