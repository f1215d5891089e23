/** The triage task: what any provider is asked, and the answer's shape. */
import { CaseType, ReasoningStep, Severity } from "@nestfleet/domain/Cases"
import { Schema } from "effect"
import * as Llm from "./Llm.js"

export const TriageOutput = Schema.Struct({
  type: CaseType,
  severity: Severity,
  confidence: Schema.Number.pipe(Schema.between(0, 1)),
  summary: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(500)),
  reasoning: Schema.Array(ReasoningStep).pipe(Schema.minItems(1))
})
export type TriageOutput = typeof TriageOutput.Type

/** What triage reads: the case's subject and its customer's messages, oldest first. */
export const TriageInput = Schema.Struct({
  subject: Schema.String,
  body: Schema.String
})
export type TriageInput = typeof TriageInput.Type

export const triage = Llm.task({
  name: "triage",
  tier: "fast",
  instructions: [
    "You triage support messages for a software product.",
    "Classify the message's type (bug, question, feature_request, incident, billing, account, other)",
    "and severity (critical: outage, data loss or security for many; high: a user is blocked;",
    "medium: something is wrong but there is a way around it; low: cosmetic, questions, ideas).",
    "Give your confidence from 0 to 1, a one-line summary, and reasoning steps that quote",
    "the words of the message that drove each decision. Answer with JSON only."
  ].join(" "),
  output: TriageOutput
})

export const encodeInput = (input: TriageInput) => JSON.stringify(input)
