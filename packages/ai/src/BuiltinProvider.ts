/**
 * The offline provider, used when no model is configured: deterministic, no network, so
 * the whole product works — and is testable — anywhere. It answers the tasks it knows with
 * classic techniques in the same JSON a model would give (triage: a logistic regression over
 * the sentence embeddings and lexical evidence, EmbeddingTriage, trained and measured on real
 * GitHub issues by eval/tools/train-triage.ts),
 * reply: extractive, the most relevant parts of the sources quoted and cited (BuiltinReply);
 * change_prep: grounded heuristics over the messages and the product's components (BuiltinChangePrep);
 * and embeds text with the Universal Sentence Encoder lite whose weights ship in an npm
 * package (BuiltinEmbeddings): chosen over feature hashing by recall on real support
 * questions (eval/tools/compare-embeddings.ts).
 */
import { Effect, Schema } from "effect"
import * as BuiltinChangePrep from "./BuiltinChangePrep.js"
import * as BuiltinEmbeddings from "./BuiltinEmbeddings.js"
import * as BuiltinReply from "./BuiltinReply.js"
import * as EmbeddingTriage from "./EmbeddingTriage.js"
import { type LlmProvider, LlmUnavailable } from "./Llm.js"
import { ChangePrepInput } from "./ChangePrepTask.js"
import { ReplyInput } from "./ReplyTask.js"
import { TriageInput } from "./TriageTask.js"

export const name = "builtin"
export const model = EmbeddingTriage.model.model
/** What answers the reply task: quotes, not a model. */
export const replyModel = "builtin-extractive"
/** What answers the change-prep task: heuristics, not a model. */
export const changePrepModel = "builtin-heuristics"

/** Dimensions of the builtin sentence embeddings. */
export const embeddingDimensions = BuiltinEmbeddings.dimensions
/** Names the space of the builtin embeddings: vectors of another model never mix with them. */
export const embeddingModel = BuiltinEmbeddings.model

const decodeTriageInput = Schema.decodeUnknownEither(Schema.parseJson(TriageInput))
const decodeReplyInput = Schema.decodeUnknownEither(Schema.parseJson(ReplyInput))
const decodeChangePrepInput = Schema.decodeUnknownEither(Schema.parseJson(ChangePrepInput))

const tasks: Record<string, (input: string) => Effect.Effect<{ text: string; model: string }, LlmUnavailable>> = {
  triage: (input) =>
    decodeTriageInput(input).pipe(
      Effect.mapError((error) =>
        new LlmUnavailable({ provider: name, message: `The triage input is not {subject, body}: ${error.message}` })
      ),
      Effect.flatMap((parsed) =>
        EmbeddingTriage.classify(parsed, BuiltinEmbeddings.embed).pipe(
          Effect.mapError((error) =>
            new LlmUnavailable({ provider: name, model, message: error.message, cause: error.cause })
          )
        )
      ),
      // The task's answer: the probabilities of every type stay out of it.
      Effect.map(({ confidence, reasoning, severity, summary, type }) => ({
        text: JSON.stringify({ type, severity, confidence, summary, reasoning }),
        model
      }))
    ),
  reply: (input) =>
    decodeReplyInput(input).pipe(
      Effect.mapError((error) =>
        new LlmUnavailable({ provider: name, message: `The reply input is not {subject, messages, sources}: ${error.message}` })
      ),
      Effect.map((parsed) => ({ text: JSON.stringify(BuiltinReply.reply(parsed)), model: replyModel }))
    ),
  change_prep: (input) =>
    decodeChangePrepInput(input).pipe(
      Effect.mapError((error) =>
        new LlmUnavailable({ provider: name, message: `The change-prep input is not the task's: ${error.message}` })
      ),
      Effect.map((parsed) => ({ text: JSON.stringify(BuiltinChangePrep.prepare(parsed)), model: changePrepModel }))
    )
}

export const provider: LlmProvider = {
  name,
  embedding: { model: embeddingModel, dimensions: embeddingDimensions },
  complete: ({ input, task }) => {
    const run = tasks[task]
    return run === undefined
      ? Effect.fail(new LlmUnavailable({ provider: name, message: `The builtin provider has no answer for the task ${task}` }))
      : run(input)
  },
  embed: (texts, space) =>
    space !== undefined && (space.model !== embeddingModel || space.dimensions !== embeddingDimensions)
      ? Effect.fail(new LlmUnavailable({ provider: name, model: space.model, message: "The builtin provider has one embedding model" }))
      : BuiltinEmbeddings.embed(texts).pipe(
        Effect.mapError((error) =>
          new LlmUnavailable({ provider: name, model: embeddingModel, message: error.message, cause: error.cause })
        )
      )
}
