/** The `Llm` over the provider the configuration names. */
import { Effect, Layer } from "effect"
import * as BuiltinProvider from "./BuiltinProvider.js"
import { Llm } from "./Llm.js"
import { LlmConfig } from "./LlmConfig.js"

export const LlmLive = Layer.unwrapEffect(
  Effect.map(LlmConfig, (config) => {
    switch (config.provider) {
      case "builtin":
        return Llm.layerWith(BuiltinProvider.provider)
    }
  })
)
