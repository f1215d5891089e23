/**
 * Who answers the pipeline's tasks, as plain settings: read from the environment at start
 * (`LlmConfig`), or changed by admins at run time (the same type, stored elsewhere), and
 * turned into a provider by `makeProvider` (LlmLive.ts).
 */
import { Config, ConfigError, Duration, Either, Option, Redacted } from "effect"
import type { Tier } from "./Llm.js"

export interface BuiltinSettings {
  readonly provider: "builtin"
}

/** An OpenAI-compatible server: OpenAI, Azure OpenAI, OpenRouter, Ollama, vLLM, LM Studio, llama.cpp. */
export interface OpenAiSettings {
  readonly provider: "openai"
  /** e.g. https://api.openai.com/v1, http://localhost:11434/v1 (Ollama). */
  readonly baseUrl: string
  /** Servers on your own machine often need none. */
  readonly apiKey: Redacted.Redacted | undefined
  readonly models: { readonly [tier in Tier]: string }
  readonly embeddingModel: string
  /** The size of the model's vectors; asked of the server as `dimensions`. */
  readonly embeddingDimensions: number
  /** How long one request may take before it is `LlmTimedOut`. */
  readonly timeout: Duration.Duration
}

export type ProviderSettings = BuiltinSettings | OpenAiSettings

export const defaults = {
  baseUrl: "https://api.openai.com/v1",
  model: "gpt-4.1-mini",
  embeddingModel: "text-embedding-3-small",
  timeout: Duration.seconds(60)
} as const

/**
 * Native vector sizes of well-known embedding models (any `vendor/` prefix, as OpenRouter
 * writes them, ignored). Other models need their size stated: it cannot be guessed, and
 * vectors must have one size to be stored and compared.
 */
export const knownEmbeddingDimensions = (model: string): number | undefined => {
  const known: Readonly<Record<string, number>> = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536
  }
  return known[model.slice(model.lastIndexOf("/") + 1)]
}

const variables = {
  provider: Config.literal("builtin", "openai")("LLM_PROVIDER").pipe(Config.withDefault("builtin" as const)),
  baseUrl: Config.string("OPENAI_BASE_URL").pipe(Config.option),
  apiKey: Config.redacted("OPENAI_API_KEY").pipe(Config.option),
  standard: Config.string("LLM_MODEL").pipe(Config.option),
  fast: Config.string("LLM_MODEL_FAST").pipe(Config.option),
  complex: Config.string("LLM_MODEL_COMPLEX").pipe(Config.option),
  embeddingModel: Config.string("LLM_EMBEDDING_MODEL").pipe(Config.option),
  embeddingDimensions: Config.string("LLM_EMBEDDING_DIMENSIONS").pipe(Config.option),
  timeout: Config.string("LLM_TIMEOUT").pipe(Config.option)
}

type Read = { readonly [K in keyof typeof variables]: Config.Config.Success<(typeof variables)[K]> }

/**
 * The openai settings from what was read, every invalid variable named. Done by hand rather
 * than with `Config.validate` so that the openai variables are checked only when that
 * provider is chosen: a stray LLM_TIMEOUT must not stop a builtin start.
 */
const openAiSettings = (read: Read): Either.Either<OpenAiSettings, ConfigError.ConfigError> => {
  const problems: Array<ConfigError.ConfigError> = []
  const invalid = (name: string, message: string) => problems.push(ConfigError.InvalidData([name], message))
  /** A set, non-blank value, trimmed; a blank one counts as unset. */
  const given = (value: Option.Option<string>) =>
    Option.getOrUndefined(Option.filter(Option.map(value, (text) => text.trim()), (text) => text !== ""))

  const baseUrl = given(read.baseUrl) ?? defaults.baseUrl
  if (!(URL.canParse(baseUrl) && /^https?:$/.test(new URL(baseUrl).protocol))) {
    invalid("OPENAI_BASE_URL", "Expected an http:// or https:// URL")
  }
  const apiKey = Option.getOrUndefined(Option.filter(read.apiKey, (key) => Redacted.value(key).trim() !== ""))
  if (apiKey === undefined && URL.canParse(baseUrl) && new URL(baseUrl).hostname === "api.openai.com") {
    invalid("OPENAI_API_KEY", `is required for ${baseUrl}`)
  }
  const standard = given(read.standard) ?? defaults.model
  const embeddingModel = given(read.embeddingModel) ?? defaults.embeddingModel

  const dimensionsText = given(read.embeddingDimensions)
  const statedDimensions = dimensionsText === undefined ? undefined : Number(dimensionsText)
  if (statedDimensions !== undefined && !(Number.isInteger(statedDimensions) && statedDimensions >= 1 && statedDimensions <= 16_384)) {
    invalid("LLM_EMBEDDING_DIMENSIONS", "Expected an integer from 1 to 16384")
  }
  const embeddingDimensions = statedDimensions ?? knownEmbeddingDimensions(embeddingModel)
  if (embeddingDimensions === undefined) {
    invalid(
      "LLM_EMBEDDING_DIMENSIONS",
      `is required for the embedding model ${embeddingModel}: the size of its vectors is not known`
    )
  }

  const timeoutText = given(read.timeout)
  const timeout = timeoutText === undefined ? Option.some(defaults.timeout) : Duration.decodeUnknown(timeoutText)
  if (Option.isNone(timeout) || !Duration.greaterThan(timeout.value, Duration.zero)) {
    invalid("LLM_TIMEOUT", "Expected a duration above zero, e.g. 60 seconds")
  }

  const [first, ...more] = problems
  if (first !== undefined) return Either.left(more.reduce((all, problem) => ConfigError.And(all, problem), first))
  return Either.right({
    provider: "openai",
    baseUrl,
    apiKey,
    // One model for every tier unless tiers are split: a server with one model just works.
    models: { fast: given(read.fast) ?? standard, standard, complex: given(read.complex) ?? standard },
    embeddingModel,
    embeddingDimensions: embeddingDimensions!,
    timeout: Option.getOrThrow(timeout)
  })
}

/** The provider settings from the environment; `builtin` (offline, deterministic) by default. */
export const LlmConfig: Config.Config<ProviderSettings> = Config.all(variables).pipe(
  Config.mapOrFail((read): Either.Either<ProviderSettings, ConfigError.ConfigError> =>
    read.provider === "builtin" ? Either.right({ provider: "builtin" }) : openAiSettings(read)
  )
)
