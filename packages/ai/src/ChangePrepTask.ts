/** The change-prep task: a pull-request draft for a bug or incident, from its messages and the product's components. */
import { CaseType, Severity } from "@nestfleet/domain/Cases"
import { Schema } from "effect"
import * as Llm from "./Llm.js"

export const ChangePrepInput = Schema.Struct({
  subject: Schema.String,
  type: Schema.NullOr(CaseType),
  severity: Schema.NullOr(Severity),
  /** The customer's messages, oldest first. */
  messages: Schema.Array(Schema.String),
  /** The product's parts, with the paths of its code they live in. */
  components: Schema.Array(Schema.Struct({ name: Schema.String, description: Schema.String, pathHints: Schema.Array(Schema.String) }))
})
export type ChangePrepInput = typeof ChangePrepInput.Type

const Lines = (max: number) => Schema.Array(Schema.String.pipe(Schema.maxLength(2000))).pipe(Schema.maxItems(max))

export const ChangePrepOutput = Schema.Struct({
  title: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  summary: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4000)),
  reproduction: Lines(20),
  /** Names of the product's components, each with what in the messages points at it. */
  components: Schema.Array(Schema.Struct({ name: Schema.String, why: Schema.String.pipe(Schema.maxLength(1000)) })).pipe(
    Schema.maxItems(5)
  ),
  surfaces: Lines(10),
  risk: Schema.Struct({ level: Schema.Literal("low", "medium", "high"), reasons: Lines(10) }),
  testPlan: Lines(10),
  rollback: Schema.String.pipe(Schema.maxLength(2000))
})
export type ChangePrepOutput = typeof ChangePrepOutput.Type

export const changePrep = Llm.task({
  name: "change_prep",
  tier: "complex",
  instructions: [
    "You prepare a pull-request draft for engineers from a customer's bug or incident report.",
    "Write a short title and a problem summary; list reproduction steps only as the messages state them",
    "(an empty list when they state none — never invent steps).",
    "Name the product components (only from the list given, by name) the problem likely lives in, each with",
    "the words of the messages that point at it; list the affected surfaces (API, UI, email, …);",
    "rate the risk of changing them low, medium or high with reasons; give a test plan and a rollback plan.",
    "Answer with JSON only."
  ].join(" "),
  output: ChangePrepOutput
})

export const encodeInput = (input: ChangePrepInput) => JSON.stringify(input)
