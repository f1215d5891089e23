/**
 * The AI settings: admins only, reading included — they name the server the pipeline's text
 * goes to. The API key is write-only: `apiKeySet` says whether there is one.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { RequireAdmin } from "./Access.js"
import { AiSettings, AiSettingsInput } from "./AiSettings.js"

/** Settings that are well-formed but cannot work: the message names the field and never quotes the key. */
export class InvalidAiSettings extends Schema.TaggedError<InvalidAiSettings>()(
  "InvalidAiSettings",
  { message: Schema.String, field: Schema.String },
  HttpApiSchema.annotations({
    status: 400,
    description: "The settings cannot work as given, e.g. an embedding model whose vector size is not known."
  })
) {}

export class AiSettingsApi extends HttpApiGroup.make("aiSettings")
  .add(
    HttpApiEndpoint.get("get", "/settings/ai")
      .addSuccess(AiSettings)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Summary, "The AI provider in effect, its models and whether a key is set (never the key)")
  )
  .add(
    HttpApiEndpoint.put("update", "/settings/ai")
      .setPayload(AiSettingsInput)
      .addSuccess(AiSettings)
      .addError(InvalidAiSettings)
      .middleware(RequireAdmin)
      .annotate(
        OpenApi.Summary,
        "Set the AI provider for every process, at once and without a restart; apiKey absent keeps the stored key, null removes it"
      )
  )
  .add(
    HttpApiEndpoint.del("reset", "/settings/ai")
      .addSuccess(AiSettings)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Summary, "Forget the settings set here (and the stored key): the environment's apply again")
  )
  .annotate(OpenApi.Title, "AI settings")
{}
