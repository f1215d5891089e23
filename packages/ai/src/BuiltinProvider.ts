/**
 * The offline provider, used when no model is configured: deterministic, no network, so
 * the whole product works — and is testable — anywhere. It answers the tasks it knows with
 * classic techniques in the same JSON a model would give (triage: a logistic regression over
 * the sentence embeddings and lexical evidence, EmbeddingTriage, trained and measured on real
 * GitHub issues by eval/tools/train-triage.ts),
 * and embeds text with the Universal Sentence Encoder lite whose weights ship in an npm
 * package (BuiltinEmbeddings): chosen over feature hashing by recall on real support
 * questions (eval/tools/compare-embeddings.ts).
 */
import { Effect, Schema } from "effect"
import * as BuiltinEmbeddings from "./BuiltinEmbeddings.js"
import * as EmbeddingTriage from "./EmbeddingTriage.js"
import { type LlmProvider, LlmUnavailable } from "./Llm.js"
import { TriageInput } from "./TriageTask.js"

export const name = "builtin"
export const model = EmbeddingTriage.model.model

/** Dimensions of the builtin sentence embeddings. */
export const embeddingDimensions = BuiltinEmbeddings.dimensions
/** Names the space of the builtin embeddings: vectors of another model never mix with them. */
export const embeddingModel = BuiltinEmbeddings.model

const decodeTriageInput = Schema.decodeUnknownEither(Schema.parseJson(TriageInput))

const tasks: Record<string, (input: string) => Effect.Effect<string, LlmUnavailable>> = {
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
      Effect.map(({ confidence, reasoning, severity, summary, type }) =>
        JSON.stringify({ type, severity, confidence, summary, reasoning })
      )
    )
}

export const provider: LlmProvider = {
  name,
  embedding: { model: embeddingModel, dimensions: embeddingDimensions },
  complete: ({ input, task }) => {
    const run = tasks[task]
    return run === undefined
      ? Effect.fail(new LlmUnavailable({ provider: name, message: `The builtin provider has no answer for the task ${task}` }))
      : Effect.map(run(input), (text) => ({ text, model }))
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
