/**
 * Providers from settings, and the `Llm` over the provider the environment names.
 * For settings that change at run time, keep the provider `makeProvider` gives for as long as
 * the settings stay the same (it remembers what its server refused) and hand it to
 * `Llm.layerDynamic`.
 */
import { Effect, Layer } from "effect"
import * as BuiltinProvider from "./BuiltinProvider.js"
import { Llm, type LlmProvider } from "./Llm.js"
import { LlmConfig, type ProviderSettings } from "./LlmConfig.js"
import * as OpenAiProvider from "./OpenAiProvider.js"

/** The provider `settings` describe. */
export const makeProvider = (
  settings: ProviderSettings,
  options: OpenAiProvider.Options = {}
): Effect.Effect<LlmProvider> => {
  switch (settings.provider) {
    case "builtin":
      return Effect.succeed(BuiltinProvider.provider)
    case "openai":
      return OpenAiProvider.make(settings, options)
  }
}

export const LlmLive = Layer.unwrapEffect(
  Effect.map(Effect.flatMap(LlmConfig, (settings) => makeProvider(settings)), (provider) => Llm.layerWith(provider))
)
