/**
 * Which AI provider answers the pipeline: the environment's (LLM_PROVIDER, OPENAI_*, LLM_*),
 * or what an admin set through the API, which then replaces it in every process. The API key
 * is write-only: an answer says whether one is set, never what it is.
 */
import { Schema } from "effect"
import { noNul } from "./Text.js"
import { UserId } from "./Users.js"

export const AiProvider = Schema.Literal("builtin", "openai").pipe(
  Schema.annotations({
    description: "builtin: offline and deterministic, needs nothing; openai: any OpenAI-compatible server."
  })
)
export type AiProvider = typeof AiProvider.Type

/** pgvector indexes (HNSW) vectors of at most this many dimensions. */
export const maxEmbeddingDimensions = 2000

/** The longest a request to the provider may be allowed to take, in seconds. */
export const maxTimeoutSeconds = 3600

const ModelName = Schema.Trim.pipe(
  noNul,
  Schema.minLength(1, { message: () => "A model name cannot be empty" }),
  Schema.maxLength(200, { message: () => "A model name is at most 200 characters" })
)

const BaseUrl = Schema.Trim.pipe(
  noNul,
  Schema.maxLength(2000, { message: () => "A URL is at most 2000 characters" }),
  Schema.filter((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol) || "Expected an http(s) URL"),
  // A URL is answered to admins and shown in logs; credentials belong in `apiKey`, which is not.
  Schema.filter((url) => {
    const parsed = new URL(url)
    return (parsed.username === "" && parsed.password === "") || "Cannot hold credentials: give the key as apiKey"
  })
)

/**
 * An API key as it is sent: kept `Redacted` from the moment it is read, so that nothing
 * that prints or traces the payload shows it. The messages never quote it.
 */
const ApiKey = Schema.Redacted(
  // Trimmed: a key pasted with a trailing newline or space would be refused by every server.
  Schema.Trim.pipe(
    Schema.filter((key) => key.length > 0 || "An API key cannot be empty (send null to remove the key)"),
    Schema.maxLength(4096, { message: () => "An API key is at most 4096 characters" }),
    // It travels in an HTTP header: a control character would break the request, or split it.
    Schema.filter((key) => !/[\u0000-\u001f\u007f]/.test(key) || "An API key cannot contain control characters")
  )
)

/** The model of each tier, as a request gives them: the tiers not named use `standard`'s. */
export const ModelsInput = Schema.Struct({
  standard: ModelName,
  fast: Schema.optional(ModelName),
  complex: Schema.optional(ModelName)
})

export const Models = Schema.Struct({
  fast: Schema.String,
  standard: Schema.String,
  complex: Schema.String
})
export type Models = typeof Models.Type

export const BuiltinSettingsInput = Schema.Struct({ provider: Schema.Literal("builtin") }).pipe(
  Schema.annotations({ identifier: "BuiltinSettingsInput", title: "builtin" })
)

export const OpenAiSettingsInput = Schema.Struct({
  provider: Schema.Literal("openai"),
  /** e.g. https://api.openai.com/v1, http://localhost:11434/v1 (Ollama). */
  baseUrl: BaseUrl,
  models: ModelsInput,
  embeddingModel: ModelName,
  /** Needed unless the model's size is known (OpenAI's); at most 2000, what pgvector indexes. */
  embeddingDimensions: Schema.optional(
    Schema.Int.pipe(
      Schema.between(1, maxEmbeddingDimensions, {
        message: () => `Expected a whole number from 1 to ${maxEmbeddingDimensions} (pgvector indexes at most ${maxEmbeddingDimensions} dimensions)`
      })
    )
  ),
  timeoutSeconds: Schema.optional(
    Schema.Number.pipe(
      Schema.greaterThan(0, { message: () => "Expected a number of seconds above zero" }),
      Schema.lessThanOrEqualTo(maxTimeoutSeconds, { message: () => `Expected at most ${maxTimeoutSeconds} seconds` })
    )
  ),
  /** Absent: the stored key is kept. `null`: the key is removed. */
  apiKey: Schema.optional(Schema.NullOr(ApiKey))
}).pipe(Schema.annotations({ identifier: "OpenAiSettingsInput", title: "openai" }))
export type OpenAiSettingsInput = typeof OpenAiSettingsInput.Type

/**
 * What an admin sets: the whole settings, by provider. `provider` tells the members apart, so
 * a bad request is told what is wrong with the member it named, not with every member.
 */
export const AiSettingsInput = Schema.Union(BuiltinSettingsInput, OpenAiSettingsInput)
export type AiSettingsInput = typeof AiSettingsInput.Type

/** The settings in effect, without the key. */
export class AiSettings extends Schema.Class<AiSettings>("AiSettings")({
  provider: AiProvider,
  /** The server (openai); null for builtin. */
  baseUrl: Schema.NullOr(Schema.String),
  /** The model of each tier (openai); null for builtin, whose tasks use no named model. */
  models: Schema.NullOr(Models),
  embeddingModel: Schema.String,
  embeddingDimensions: Schema.Int,
  /** How long one request may take (openai); null for builtin. */
  timeoutSeconds: Schema.NullOr(Schema.Number),
  /** Whether an API key is set; the key itself is never answered. */
  apiKeySet: Schema.Boolean,
  /** `environment`: nobody set any, the variables apply; `database`: an admin's, in every process. */
  source: Schema.Literal("environment", "database"),
  updatedAt: Schema.NullOr(Schema.Date),
  /** The admin who set them; null for the environment's. */
  updatedBy: Schema.NullOr(UserId)
}) {}
