/**
 * Triage without a model service: a multinomial logistic regression over sentence embeddings
 * (USE-lite, `BuiltinEmbeddings`) of the subject and of the start of the body, plus the
 * lexical classifier's evidence per type, with a temperature fitted so that the winning
 * probability is a calibrated confidence.
 *
 * The learned parameters (`TriageModel.json`) come from `eval/tools/train-triage.ts`, which
 * trains on real GitHub issues typed by their maintainers' labels (eval/triage/dev.jsonl and
 * train.jsonl), chooses its settings by cross-validation grouped by project and prints the
 * figures; held-out projects never enter training. Severity keeps the lexical rules (cue words
 * moving the usual level of the chosen type): too few issues state a severity to learn it.
 *
 * Every step of the answer says what drove it: the classifier's probabilities, how much of the
 * winning margin came from the subject, the body and the words, and the lexicon words found.
 */
import type { CaseType, ReasoningStep, Severity } from "@nestfleet/domain/Cases"
import { truncate } from "@nestfleet/domain/Text"
import { Effect, Record as Rec, Schema } from "effect"
import { cuePatterns, type Match, matchLexicon, normalize, sum, typePatterns } from "./LexicalTriage.js"
import { label, type LexicalType, usualSeverity } from "./LexicalTriageLexicon.js"
import modelData from "./TriageModel.json" with { type: "json" }

// ---- the model ----

const CaseTypeLiteral = Schema.Literal("bug", "question", "feature_request", "incident", "billing", "account", "other")
const LexicalTypeLiteral = Schema.Literal("bug", "incident", "question", "feature_request", "billing", "account")

/** The learned parameters and the settings they were learned with. */
export const TriageModel = Schema.Struct({
  model: Schema.String,
  /** Output classes, in the order of the rows of `weights`. */
  classes: Schema.Array(CaseTypeLiteral),
  /** Embedding width: features are [subject embedding, body embedding, lexical evidence]. */
  dimensions: Schema.Number,
  /** How many characters of the body are embedded. */
  bodyChars: Schema.Number,
  /** Lexical evidence features, in this order: scale × ln(1 + evidence of the type). */
  lexicalTypes: Schema.Array(LexicalTypeLiteral),
  lexicalScale: Schema.Number,
  weights: Schema.Array(Schema.Array(Schema.Number)),
  bias: Schema.Array(Schema.Number),
  /** Logits are divided by it before the softmax (fitted on cross-validated logits). */
  temperature: Schema.Number,
  /** What it was trained on and how it scored in cross-validation (informational). */
  training: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})
export type TriageModel = typeof TriageModel.Type

/** Checks the shapes agree, so a bad file fails at load, not as a NaN confidence later. */
export const decodeModel = (input: unknown): TriageModel => {
  const model = Schema.decodeUnknownSync(TriageModel)(input)
  const width = 2 * model.dimensions + model.lexicalTypes.length
  if (model.weights.length !== model.classes.length || model.bias.length !== model.classes.length) {
    throw new Error(`TriageModel: ${model.classes.length} classes but ${model.weights.length} weight rows, ${model.bias.length} biases`)
  }
  for (const row of model.weights) {
    if (row.length !== width) throw new Error(`TriageModel: a weight row has ${row.length} numbers, features have ${width}`)
  }
  if (!(model.temperature > 0)) throw new Error(`TriageModel: temperature must be positive, got ${model.temperature}`)
  return model
}

/** The shipped model, checked when this module loads. */
export const model: TriageModel = decodeModel(modelData)

// ---- lexical evidence (LexicalTriage's matching: subject words 1.5×, repeats add log-wise) ----

/** Each lexical type's matches in a message. */
export const lexicalEvidence = (input: Input): Record<LexicalType, ReadonlyArray<Match>> => {
  const text = { subject: normalize(input.subject), body: normalize(input.body) }
  return Rec.map(typePatterns, (patterns) => matchLexicon(patterns, text))
}

// ---- features and probabilities ----

/** A support message: its subject and the customer's words. */
export interface Input {
  readonly subject: string
  readonly body: string
}

/** The two texts that are embedded: the subject, and the start of the body. */
export const embeddedTexts = (input: Input, m: Pick<TriageModel, "bodyChars"> = model): readonly [string, string] => [
  input.subject,
  truncate(input.body, m.bodyChars)
]

export const lexicalFeatures = (
  evidence: Record<LexicalType, ReadonlyArray<Match>>,
  m: Pick<TriageModel, "lexicalTypes" | "lexicalScale"> = model
): ReadonlyArray<number> => m.lexicalTypes.map((type) => m.lexicalScale * Math.log1p(sum(evidence[type])))

/** The feature vector: subject embedding, body embedding, lexical features. */
export const features = (
  subject: ReadonlyArray<number>,
  body: ReadonlyArray<number>,
  lexical: ReadonlyArray<number>
): ReadonlyArray<number> => [...subject, ...body, ...lexical]

/** Where a class's logit comes from: the bias and each block of features. */
export interface LogitParts {
  readonly bias: number
  readonly subject: number
  readonly body: number
  readonly words: number
  readonly total: number
}

export const logitParts = (x: ReadonlyArray<number>, m: TriageModel = model): ReadonlyArray<LogitParts> =>
  m.weights.map((row, k) => {
    const part = (from: number, to: number) => {
      let total = 0
      for (let j = from; j < to; j++) total += row[j]! * x[j]!
      return total
    }
    const subject = part(0, m.dimensions)
    const body = part(m.dimensions, 2 * m.dimensions)
    const words = part(2 * m.dimensions, row.length)
    const bias = m.bias[k]!
    return { bias, subject, body, words, total: bias + subject + body + words }
  })

/** Softmax of logits / temperature. */
export const softmax = (logits: ReadonlyArray<number>, temperature = 1): ReadonlyArray<number> => {
  const max = Math.max(...logits)
  const exps = logits.map((z) => Math.exp((z - max) / temperature))
  const total = exps.reduce((a, b) => a + b, 0)
  return exps.map((e) => e / total)
}

export const probabilities = (x: ReadonlyArray<number>, m: TriageModel = model): ReadonlyArray<number> =>
  softmax(logitParts(x, m).map((p) => p.total), m.temperature)

// ---- severity: the lexical rules, for the type the classifier chose ----

interface SeverityDecision {
  readonly level: Severity
  readonly usual: Severity
  readonly decisive: ReadonlyArray<Match>
  readonly askingHow: boolean
  readonly cued: boolean
}

/** Question evidence from which a billing or account message counts as a how-to. */
const howToEvidence = 2.5

const isProblem = (type: CaseType) => type === "incident" || type === "bug" || type === "account" || type === "billing"

const severityOf = (input: Input, type: CaseType, question: ReadonlyArray<Match>): SeverityDecision => {
  const text = { subject: normalize(input.subject), body: normalize(input.body) }
  const cues = Rec.map(cuePatterns, (patterns) => matchLexicon(patterns, text))
  const usual = usualSeverity[type]
  const problem = isProblem(type)
  const critical = !problem
    ? []
    : cues.grave.length > 0
    ? cues.grave
    : type === "incident" && cues.degraded.length === 0
    ? cues.scope
    : []
  const high = problem ? [...cues.high, ...cues.scope] : cues.high
  const asking = (type === "billing" || type === "account") && sum(question) >= howToEvidence
  const cued = critical.length + high.length + cues.low.length > 0
  if (critical.length > 0) return { level: "critical", usual, decisive: critical, askingHow: false, cued }
  if (high.length > 0 && (usual === "medium" || usual === "high" || high.length >= 2)) {
    return { level: "high", usual, decisive: high, askingHow: false, cued }
  }
  const level = high.length === 0 && (cues.low.length > 0 || asking) ? "low" : usual
  if (level === usual) return { level, usual, decisive: [], askingHow: false, cued }
  return cues.low.length > 0
    ? { level, usual, decisive: cues.low, askingHow: false, cued }
    : { level, usual, decisive: question, askingHow: true, cued }
}

// ---- the answer ----

export interface EmbeddingTriageResult {
  readonly type: CaseType
  readonly severity: Severity
  readonly confidence: number
  readonly summary: string
  readonly reasoning: ReadonlyArray<ReasoningStep>
  /** Every class's probability, in `model.classes` order (not part of the task's answer). */
  readonly probabilities: ReadonlyArray<number>
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits

const spoken = (type: CaseType) => type.replace("_", " ")

const describe = (matches: ReadonlyArray<Match>) =>
  matches
    .toSorted((a, b) => b.score - a.score)
    .slice(0, 6)
    .map((match) => `"${match.term}"${match.count > 1 ? ` ×${match.count}` : ""}${match.inSubject ? " (subject)" : ""}`)
    .join(", ")

const terms = (matches: ReadonlyArray<Match>) =>
  matches.toSorted((a, b) => b.score - a.score).slice(0, 6).map((match) => match.term)

const summarize = (input: Input, type: CaseType) => {
  const firstLine = input.body.trim().split(/(?<=[.!?])\s|\n/, 1)[0]?.trim() ?? ""
  const about = input.subject.trim() || firstLine
  return `${label[type]}: ${about.length > 160 ? `${truncate(about, 157)}...` : about}`
}

const signed = (value: number) => `${value >= 0 ? "+" : "−"}${Math.abs(round(value, 1)).toFixed(1)}`

/**
 * The answer for a message whose two embedded texts (`embeddedTexts`) have the unit vectors
 * `subjectVector` and `bodyVector`. Pure: the same vectors give the same answer.
 */
export const decide = (
  input: Input,
  subjectVector: ReadonlyArray<number>,
  bodyVector: ReadonlyArray<number>,
  m: TriageModel = model
): EmbeddingTriageResult => {
  const evidence = lexicalEvidence(input)
  const x = features(subjectVector, bodyVector, lexicalFeatures(evidence, m))
  const parts = logitParts(x, m)
  const probs = softmax(parts.map((p) => p.total), m.temperature)
  const ranked = probs.map((p, k) => ({ p, k })).toSorted((a, b) => b.p - a.p || a.k - b.k)
  const best = ranked[0]!
  const second = ranked[1]!
  const type = m.classes[best.k]!
  const runnerUp = m.classes[second.k]!
  const confidence = Math.min(1, Math.max(0, round(best.p)))
  const matches = type === "other" ? [] : evidence[type]
  const severity = severityOf(input, type, evidence.question)

  const margin = (key: "subject" | "body" | "words" | "bias") => (parts[best.k]![key] - parts[second.k]![key]) / m.temperature
  const words = `${input.subject} ${input.body}`.split(/\s+/).filter((word) => word.length > 0).length
  const reading: ReasoningStep = {
    step: "Read the message",
    detail: `${words} words; the subject and the first ${m.bodyChars} characters of the body embedded ` +
      `(sentence encoder, ${m.dimensions} dimensions), and the triage lexicon matched`,
    evidence: []
  }
  const others = ranked
    .slice(1, 3)
    .map(({ k, p }) => `${spoken(m.classes[k]!)} ${round(p)}`)
    .join(", ")
  const typeStep: ReasoningStep = {
    step: `Type: ${spoken(type)}`,
    detail: `Classifier probability ${round(best.p)} for ${spoken(type)} (next: ${others}). ` +
      `Its lead over ${spoken(runnerUp)}: subject ${signed(margin("subject"))}, body ${signed(margin("body"))}, ` +
      `words ${signed(margin("words"))}, prior ${signed(margin("bias"))}` +
      (matches.length > 0 ? `. Words for ${spoken(type)}: ${describe(matches)}` : `. No lexicon words for ${spoken(type)}`),
    evidence: terms(matches)
  }
  const start = `${severity.usual} is usual for ${spoken(type)}`
  const severityStep: ReasoningStep = {
    step: `Severity: ${severity.level}`,
    detail: severity.level === severity.usual
      ? start + (severity.cued ? "" : "; no cue words moved it")
      : `${start}; moved to ${severity.level} by ${
        severity.askingHow ? `asking how (${describe(severity.decisive)}) with nothing broken` : describe(severity.decisive)
      }`,
    evidence: terms(severity.decisive)
  }
  const confidenceStep: ReasoningStep = {
    step: `Confidence: ${confidence}`,
    detail: `The classifier's probability for ${spoken(type)}, calibrated (temperature ${round(m.temperature)}) ` +
      `on cross-validated predictions for labelled issues`,
    evidence: []
  }
  return {
    type,
    severity: severity.level,
    confidence,
    summary: summarize(input, type),
    reasoning: [reading, typeStep, severityStep, confidenceStep],
    probabilities: probs
  }
}

/** What `classify` needs to embed texts: unit vectors of `model.dimensions` numbers. */
export type Embed<E> = (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, E>

/** Embeds the message's subject and body start with `embed`, then decides. */
export const classify = <E>(input: Input, embed: Embed<E>, m: TriageModel = model) =>
  Effect.flatMap(embed(embeddedTexts(input, m)), (vectors) => {
    const [subject, body] = vectors
    if (subject === undefined || body === undefined || subject.length !== m.dimensions || body.length !== m.dimensions) {
      return Effect.die(new Error(`EmbeddingTriage: expected 2 vectors of ${m.dimensions} numbers`))
    }
    return Effect.succeed(decide(input, subject, body, m))
  })
