/**
 * The offline provider, used when no model is configured: deterministic, no network, so
 * the whole product works — and is testable — anywhere. It answers the tasks it knows with
 * classic techniques (a lexical classifier for triage) in the same JSON a model would give,
 * and embeds text by feature hashing.
 */
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import * as LexicalTriage from "./LexicalTriage.js"
import { type LlmProvider, LlmUnavailable } from "./Llm.js"
import { TriageInput } from "./TriageTask.js"

export const name = "builtin"
export const model = "builtin-lexical-1"

/** Dimensions of the hashed embeddings. */
export const embeddingDimensions = 384
/** Names the space of the hashed embeddings: vectors of another model never mix with them. */
export const embeddingModel = "builtin-hashing-384"

const decodeTriageInput = Schema.decodeUnknownEither(Schema.parseJson(TriageInput))

const tasks: Record<string, (input: string) => Effect.Effect<string, LlmUnavailable>> = {
  triage: (input) =>
    decodeTriageInput(input).pipe(
      Effect.mapError((error) =>
        new LlmUnavailable({ provider: name, message: `The triage input is not {subject, body}: ${error.message}` })
      ),
      Effect.map((parsed) => JSON.stringify(LexicalTriage.classify(parsed)))
    )
}

const tokens = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []

/** Signed feature hashing of words and word pairs, L2-normalised: similar texts, nearby vectors. */
const hashEmbedding = (text: string): Array<number> => {
  const vector = new Array<number>(embeddingDimensions).fill(0)
  const words = tokens(text)
  const features = [...words, ...words.slice(1).map((word, i) => `${words[i]} ${word}`)]
  for (const feature of features) {
    const digest = createHash("sha256").update(feature).digest()
    const index = digest.readUInt32BE(0) % embeddingDimensions
    vector[index]! += (digest[4]! & 1) === 0 ? 1 : -1
  }
  const norm = Math.sqrt(vector.reduce((total, value) => total + value * value, 0))
  return norm === 0 ? vector : vector.map((value) => value / norm)
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
  embed: (texts) => Effect.sync(() => texts.map(hashEmbedding))
}
