import { Config } from "effect"

/**
 * Which provider answers the pipeline's tasks. `builtin` (offline, deterministic) is the only
 * one so far; the OpenAI-compatible provider joins it with the next pipeline issue.
 */
export const LlmConfig = Config.all({
  provider: Config.literal("builtin")("LLM_PROVIDER").pipe(Config.withDefault("builtin" as const))
})
