/**
 * Which AI provider answers the pipeline, as admins set it at run time: `get`/`update`/`reset`
 * for the API, and `currentProvider` for every process's `Llm` (`LlmFromSettings`). With no
 * settings stored, the environment's (`LlmConfig`) apply. The API key is stored through the
 * secret cipher, and neither answered, logged nor put in a span.
 *
 * A change applies in every process without a restart, as a channel change does: the write
 * announces it when it commits (see `AiSettingsRepo.save`), and each process forgets the
 * settings it keeps — at once for a change of its own. The provider is built again only
 * when the settings' version changes: a provider remembers what its server refused, and
 * rebuilding it on every read would forget that.
 *
 * To run it without a database: `AiSettings.DefaultWithoutDependencies` over
 * `makeTestLayer(AiSettingsRepo)({ … })`, `Transactions.Passthrough`,
 * `makeTestLayer(Notifications)({ listen })` and `Layer.succeed(SecretCipher, SecretCipher.fromKey(key))`.
 */
import * as BuiltinProvider from "@nestfleet/ai/BuiltinProvider"
import { Llm, type LlmProvider } from "@nestfleet/ai/Llm"
import { knownEmbeddingDimensions, LlmConfig, type ProviderSettings } from "@nestfleet/ai/LlmConfig"
import { makeProvider } from "@nestfleet/ai/LlmLive"
import { type AiSettingsFields, type AiSettingsRow, AiSettingsRepo, changesTopic } from "@nestfleet/db/AiSettingsRepo"
import { Notifications } from "@nestfleet/db/Notifications"
import { Transactions } from "@nestfleet/db/Transactions"
import type { SignedInUser } from "@nestfleet/domain/Access"
import {
  AiSettings as AiSettingsView,
  type AiSettingsInput,
  maxEmbeddingDimensions,
  type OpenAiSettingsInput
} from "@nestfleet/domain/AiSettings"
import { InvalidAiSettings } from "@nestfleet/domain/AiSettingsApi"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { AiCallLogLive } from "./AiCallLog.js"
import { SecretCipher } from "./SecretCipher.js"
import * as TimedCache from "./TimedCache.js"
import { orDieUnexpected } from "./Unexpected.js"

/**
 * How long a process keeps the settings it read. A change is announced to every process when
 * it commits, and each forgets them then; this bounds how long a process that missed the
 * announcement (its LISTEN connection down) may go on with the settings as they were.
 */
export const settingsCacheTimeToLive = Duration.seconds(5)

/** The settings in effect, and what names them: a provider built for one version serves until another. */
export interface EffectiveSettings {
  /** `environment`, or `database:<n>`: a new one at every change. */
  readonly version: string
  readonly settings: ProviderSettings
}

const defaultTimeout = Duration.seconds(60)

const invalid = (field: string, message: string) => new InvalidAiSettings({ field, message: `${field}: ${message}` })

const originOf = (url: string) => new URL(url).origin

const requiresKey = (baseUrl: string) => new URL(baseUrl).hostname === "api.openai.com"

/** The settings as answered: never the key, only whether there is one. */
const viewOf = (
  settings: ProviderSettings,
  meta: Pick<AiSettingsView, "source" | "updatedAt" | "updatedBy"> & { readonly apiKeySet: boolean }
) =>
  settings.provider === "builtin"
    ? new AiSettingsView({
      provider: "builtin",
      baseUrl: null,
      models: null,
      embeddingModel: BuiltinProvider.provider.embedding.model,
      embeddingDimensions: BuiltinProvider.provider.embedding.dimensions,
      timeoutSeconds: null,
      ...meta
    })
    : new AiSettingsView({
      provider: "openai",
      baseUrl: settings.baseUrl,
      models: { ...settings.models },
      embeddingModel: settings.embeddingModel,
      embeddingDimensions: settings.embeddingDimensions,
      timeoutSeconds: Duration.toSeconds(settings.timeout),
      ...meta
    })

/** The provider settings a stored row describes, with the key it holds (decrypted) or none. */
const settingsOf = (row: AiSettingsRow, apiKey: Redacted.Redacted | undefined): ProviderSettings => {
  if (row.provider === "builtin") return { provider: "builtin" }
  const models = row.models as { readonly fast: string; readonly standard: string; readonly complex: string }
  return {
    provider: "openai",
    baseUrl: row.baseUrl!,
    apiKey,
    models: { fast: models.fast, standard: models.standard, complex: models.complex },
    embeddingModel: row.embeddingModel!,
    embeddingDimensions: row.embeddingDimensions!,
    timeout: Duration.millis(row.timeoutMs!)
  }
}

export class AiSettings extends Effect.Service<AiSettings>()("@nestfleet/core/AiSettings", {
  scoped: Effect.gen(function*() {
    const repo = yield* AiSettingsRepo
    const transactions = yield* Transactions
    const cipher = yield* SecretCipher
    const notifications = yield* Notifications
    const environment = yield* LlmConfig

    const environmentView = () =>
      viewOf(environment, {
        source: "environment",
        apiKeySet: environment.provider === "openai" && environment.apiKey !== undefined,
        updatedAt: null,
        updatedBy: null
      })

    const storedView = (row: AiSettingsRow) =>
      viewOf(settingsOf(row, undefined), {
        source: "database",
        apiKeySet: row.apiKeyEncrypted !== null,
        updatedAt: row.updatedAt,
        updatedBy: row.updatedBy
      })

    const get = Effect.fn("AiSettings.get")(function*() {
      return Option.match(yield* repo.find(), { onNone: environmentView, onSome: storedView })
    }, orDieUnexpected)

    /**
     * The row `input` makes, given the stored one. An absent `apiKey` keeps the stored key —
     * unless the server changes: a key is not sent to a server it was not given for, so a
     * new server needs the key again (or `null`).
     */
    const openAiFields = (input: OpenAiSettingsInput, current: Option.Option<AiSettingsRow>) =>
      Effect.gen(function*() {
        const dimensions = input.embeddingDimensions ?? knownEmbeddingDimensions(input.embeddingModel)
        if (dimensions === undefined) {
          return yield* invalid(
            "embeddingDimensions",
            `is required for the embedding model ${input.embeddingModel}: the size of its vectors is not known`
          )
        }
        if (dimensions > maxEmbeddingDimensions) {
          return yield* invalid(
            "embeddingDimensions",
            `${input.embeddingModel} makes vectors of ${dimensions} dimensions, and pgvector indexes at most ` +
              `${maxEmbeddingDimensions}: give a smaller embeddingDimensions (OpenAI's text-embedding-3 models accept it)`
          )
        }
        const stored = Option.filter(current, (row) => row.apiKeyEncrypted !== null)
        let apiKeyEncrypted: string | null
        if (input.apiKey === undefined) {
          if (Option.isSome(stored) && (stored.value.baseUrl === null || originOf(stored.value.baseUrl) !== originOf(input.baseUrl))) {
            return yield* invalid(
              "apiKey",
              "the stored key was given for another server: give the key for this one again, or null for none"
            )
          }
          apiKeyEncrypted = Option.isSome(stored) ? stored.value.apiKeyEncrypted : null
        } else {
          apiKeyEncrypted = input.apiKey === null ? null : yield* cipher.encrypt(input.apiKey)
        }
        if (apiKeyEncrypted === null && requiresKey(input.baseUrl)) {
          return yield* invalid("apiKey", `is required for ${originOf(input.baseUrl)}`)
        }
        const standard = input.models.standard
        return {
          provider: "openai",
          baseUrl: input.baseUrl,
          models: { fast: input.models.fast ?? standard, standard, complex: input.models.complex ?? standard },
          embeddingModel: input.embeddingModel,
          embeddingDimensions: dimensions,
          timeoutMs: Math.round((input.timeoutSeconds ?? Duration.toSeconds(defaultTimeout)) * 1000),
          apiKeyEncrypted
        } satisfies Omit<AiSettingsFields, "updatedBy">
      })

    /** builtin needs nothing, and keeps nothing: a key no provider uses is not kept. */
    const builtinFields = {
      provider: "builtin",
      baseUrl: null,
      models: null,
      embeddingModel: null,
      embeddingDimensions: null,
      timeoutMs: null,
      apiKeyEncrypted: null
    } satisfies Omit<AiSettingsFields, "updatedBy">

    const update = Effect.fn("AiSettings.update")(function*(user: SignedInUser, input: AiSettingsInput) {
      yield* Effect.annotateCurrentSpan({ "ai.provider": input.provider })
      const row = yield* transactions.withTransaction(Effect.gen(function*() {
        const current = yield* repo.lock()
        const fields = input.provider === "builtin" ? builtinFields : yield* openAiFields(input, current)
        return yield* repo.save({ ...fields, updatedBy: user.id })
      }))
      yield* forget
      yield* Effect.logInfo("AI settings changed").pipe(
        Effect.annotateLogs({ provider: row.provider, version: row.version, by: user.id, apiKeySet: row.apiKeyEncrypted !== null })
      )
      return storedView(row)
    }, orDieUnexpected)

    const reset = Effect.fn("AiSettings.reset")(function*(user: SignedInUser) {
      const removed = yield* repo.remove()
      yield* forget
      if (removed) {
        yield* Effect.logInfo("AI settings reset to the environment's").pipe(Effect.annotateLogs({ by: user.id }))
      }
      return environmentView()
    }, orDieUnexpected)

    const load = Effect.gen(function*() {
      const row = yield* repo.find()
      if (Option.isNone(row)) return { version: "environment", settings: environment } satisfies EffectiveSettings
      const stored = row.value.apiKeyEncrypted
      const apiKey = stored === null ? undefined : yield* cipher.decrypt(stored).pipe(
        // Never the key: the cipher's messages say what is wrong with a stored value, not what it is.
        Effect.orDieWith((error) => new Error(`The AI settings' stored API key cannot be read: ${error.message}`))
      )
      return { version: `database:${row.value.version}`, settings: settingsOf(row.value, apiKey) } satisfies EffectiveSettings
    }).pipe(orDieUnexpected)

    const cache = yield* TimedCache.make({ capacity: 1, timeToLive: settingsCacheTimeToLive, lookup: (_: "current") => load })
    const forget = cache.invalidateAll
    yield* notifications.listen(changesTopic, { onNotification: () => forget, onSubscribed: forget })

    /** The settings in effect in this process now. */
    const current = cache.get("current")

    let built: { readonly version: string; readonly provider: LlmProvider } | undefined
    const building = yield* Effect.makeSemaphore(1)
    const keptFor = (version: string) => (built?.version === version ? built.provider : undefined)

    /**
     * The provider the settings in effect describe: the one already built while their version
     * stays the same, a new one once it changes. Concurrent calls after a change build it once.
     */
    const currentProvider: Effect.Effect<LlmProvider> = Effect.flatMap(current, (effective) => {
      const kept = keptFor(effective.version)
      if (kept !== undefined) return Effect.succeed(kept)
      return building.withPermits(1)(Effect.suspend(() => {
        const keptMeanwhile = keptFor(effective.version)
        if (keptMeanwhile !== undefined) return Effect.succeed(keptMeanwhile)
        return makeProvider(effective.settings).pipe(
          Effect.tap((provider) =>
            Effect.sync(() => {
              built = { version: effective.version, provider }
            }).pipe(
              Effect.zipRight(
                Effect.logInfo("AI provider in use").pipe(
                  Effect.annotateLogs({ provider: provider.name, settings: effective.version })
                )
              )
            )
          )
        )
      }))
    })

    return { get, update, reset, current, currentProvider } as const
  }),
  dependencies: [AiSettingsRepo.Default, Transactions.Default, Notifications.Default]
}) {}

/**
 * The `Llm` over the provider the AI settings name at each call, recording every call in
 * `ai_calls`. One value, shared: a process that runs the API and the worker builds it once.
 */
export const LlmFromSettings = Layer.unwrapEffect(
  Effect.map(AiSettings, (settings) => Llm.layerDynamic(settings.currentProvider))
).pipe(Layer.provide(AiCallLogLive))
