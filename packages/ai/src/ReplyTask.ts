/**
 * The reply task: a draft answer to a customer, grounded in numbered passages of the
 * product's knowledge base. The answer cites what it takes from a passage as `[n]`; the
 * pipeline checks the citations before anything is sent (core's ReplyGuard).
 */
import { Schema } from "effect"
import * as Llm from "./Llm.js"

/** A passage the reply may use, numbered as the reply cites it. */
export const ReplySource = Schema.Struct({
  n: Schema.Int,
  title: Schema.String,
  heading: Schema.String,
  url: Schema.NullOr(Schema.String),
  text: Schema.String
})
export type ReplySource = typeof ReplySource.Type

export const ReplyInput = Schema.Struct({
  subject: Schema.String,
  /** The conversation so far, oldest first: the customer's messages and the replies they got. */
  messages: Schema.Array(Schema.Struct({ from: Schema.Literal("customer", "support"), body: Schema.String })),
  /** Most relevant first. */
  sources: Schema.Array(ReplySource)
})
export type ReplyInput = typeof ReplyInput.Type

export const ReplyOutput = Schema.Struct({
  /** The reply's body, without greeting or sign-off (the product's templates add them). */
  body: Schema.String.pipe(Schema.maxLength(20_000)),
  /** The numbers of the sources the body cites. */
  cited: Schema.Array(Schema.Int)
})
export type ReplyOutput = typeof ReplyOutput.Type

export const reply = Llm.task({
  name: "reply",
  tier: "standard",
  instructions: [
    "You write the body of a support reply to a customer of a software product.",
    "Answer only from the numbered sources given; never add facts they do not state.",
    "After every sentence that uses a source, cite it with its number in brackets, like [1] or [2].",
    "If the sources do not answer the customer's question, say briefly that a person will follow up, and cite nothing.",
    "Do not write a greeting or a sign-off. Be brief and concrete; keep code, commands and settings exactly as the sources write them.",
    'Answer with JSON only: {"body": the reply, "cited": the numbers of the sources you cited}.'
  ].join(" "),
  output: ReplyOutput
})

export const encodeInput = (input: ReplyInput) => JSON.stringify(input)
