import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Redacted } from "effect"
import { LlmConfig } from "../src/LlmConfig.js"

const read = (env: Record<string, string>) =>
  LlmConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

/** The configuration error's text: what a failed start prints. */
const problem = (env: Record<string, string>) => Effect.map(Effect.flip(read(env)), String)

describe("LlmConfig", () => {
  it.effect("is builtin by default, and then reads no openai variable", () =>
    Effect.gen(function*() {
      expect(yield* read({})).toEqual({ provider: "builtin" })
      expect(yield* read({ LLM_PROVIDER: "builtin", LLM_TIMEOUT: "soon", OPENAI_BASE_URL: "nope" })).toEqual({
        provider: "builtin"
      })
    }))

  it.effect("openai: OpenAI's server and models by default, every tier on LLM_MODEL", () =>
    Effect.gen(function*() {
      const settings = yield* read({ LLM_PROVIDER: "openai", OPENAI_API_KEY: "sk-abc" })
      if (settings.provider !== "openai") return expect.fail("expected openai settings")
      expect(settings).toMatchObject({
        baseUrl: "https://api.openai.com/v1",
        models: { fast: "gpt-4.1-mini", standard: "gpt-4.1-mini", complex: "gpt-4.1-mini" },
        embeddingModel: "text-embedding-3-small",
        embeddingDimensions: 1536
      })
      expect(Duration.toMillis(settings.timeout)).toBe(60_000)
      expect(settings.apiKey && Redacted.value(settings.apiKey)).toBe("sk-abc")
    }))

  it.effect("openai: a local server with its own models, tiers split, no key", () =>
    Effect.gen(function*() {
      const settings = yield* read({
        LLM_PROVIDER: "openai",
        OPENAI_BASE_URL: "http://localhost:11434/v1",
        LLM_MODEL: "llama3.1:8b",
        LLM_MODEL_FAST: "llama3.2:3b",
        LLM_MODEL_COMPLEX: "qwen2.5:32b",
        LLM_EMBEDDING_MODEL: "nomic-embed-text",
        LLM_EMBEDDING_DIMENSIONS: "768",
        LLM_TIMEOUT: "2 minutes"
      })
      expect(settings).toMatchObject({
        provider: "openai",
        apiKey: undefined,
        models: { fast: "llama3.2:3b", standard: "llama3.1:8b", complex: "qwen2.5:32b" },
        embeddingModel: "nomic-embed-text",
        embeddingDimensions: 768
      })
      if (settings.provider === "openai") expect(Duration.toMillis(settings.timeout)).toBe(120_000)
    }))

  it.effect("knows the sizes of OpenAI's embedding models, by any vendor prefix", () =>
    Effect.gen(function*() {
      const settings = yield* read({
        LLM_PROVIDER: "openai",
        OPENAI_BASE_URL: "https://openrouter.ai/api/v1",
        OPENAI_API_KEY: "k",
        LLM_EMBEDDING_MODEL: "openai/text-embedding-3-large"
      })
      expect(settings).toMatchObject({ embeddingDimensions: 3072 })
    }))

  it.effect("an invalid value stops the start naming its variable", () =>
    Effect.gen(function*() {
      const local = { LLM_PROVIDER: "openai", OPENAI_BASE_URL: "http://localhost:8000/v1" }
      expect(yield* problem({ LLM_PROVIDER: "claude" })).toContain("LLM_PROVIDER")
      expect(yield* problem({ LLM_PROVIDER: "openai" })).toContain("OPENAI_API_KEY")
      expect(yield* problem({ ...local, OPENAI_BASE_URL: "localhost:8000" })).toContain("OPENAI_BASE_URL")
      expect(yield* problem({ ...local, LLM_TIMEOUT: "soon" })).toContain("LLM_TIMEOUT")
      expect(yield* problem({ ...local, LLM_TIMEOUT: "0 seconds" })).toContain("LLM_TIMEOUT")
      expect(yield* problem({ ...local, LLM_EMBEDDING_DIMENSIONS: "1.5" })).toContain("LLM_EMBEDDING_DIMENSIONS")
      const unknownModel = yield* problem({ ...local, LLM_EMBEDDING_MODEL: "bge-m3" })
      expect(unknownModel).toContain("LLM_EMBEDDING_DIMENSIONS")
      expect(unknownModel).toContain("bge-m3")
      // Every invalid variable at once, not one per start.
      const both = yield* problem({ ...local, LLM_TIMEOUT: "soon", OPENAI_BASE_URL: "ftp://x" })
      expect(both).toContain("LLM_TIMEOUT")
      expect(both).toContain("OPENAI_BASE_URL")
    }))

  it.effect("never shows the key", () =>
    Effect.gen(function*() {
      const settings = yield* read({ LLM_PROVIDER: "openai", OPENAI_API_KEY: "sk-secret-value" })
      expect(JSON.stringify(settings)).not.toContain("sk-secret-value")
      expect(String(settings.provider === "openai" ? settings.apiKey : "")).not.toContain("sk-secret-value")
    }))
})
