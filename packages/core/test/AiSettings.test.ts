/**
 * The AI settings as processes see them. Without a database, over doubles: when the provider
 * is built again (a new version only) and how long a process may go on with settings it was
 * not told have changed. On a database (both modes): a second process hears a change at once,
 * well within that time; against a server, through a connection of its own.
 */
import { describe, expect, it } from "@effect/vitest"
import { AiSettingsRepo, AiSettingsRow } from "@nestfleet/db/AiSettingsRepo"
import * as Database from "@nestfleet/db/Database"
import * as Migrator from "@nestfleet/db/Migrator"
import { type Subscriber, Notifications } from "@nestfleet/db/Notifications"
import * as Sql from "@nestfleet/db/Sql"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Transactions } from "@nestfleet/db/Transactions"
import type { SignedInUser } from "@nestfleet/domain/Access"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { UserId } from "@nestfleet/domain/Users"
import { ConfigProvider, Context, Duration, Effect, Layer, Option, Redacted, Schedule, TestClock } from "effect"
import { randomBytes } from "node:crypto"
import { AiSettings, settingsCacheTimeToLive } from "../src/AiSettings.js"
import { SecretCipher } from "../src/SecretCipher.js"

const key = randomBytes(32)
const cipher = Layer.succeed(SecretCipher, SecretCipher.fromKey(key))
const noEnvironment = Layer.setConfigProvider(ConfigProvider.fromMap(new Map()))

const openAiRow = (version: number, baseUrl = "http://127.0.0.1:9/v1") =>
  new AiSettingsRow({
    provider: "openai",
    baseUrl,
    models: { fast: "small", standard: "medium", complex: "large" },
    embeddingModel: "embedder",
    embeddingDimensions: 8,
    timeoutMs: 5_000,
    apiKeyEncrypted: null,
    version,
    updatedBy: null,
    updatedAt: new Date()
  })

/** AiSettings over a row the test sets, counting reads, and a subscription the test can announce on. */
const overDoubles = Effect.gen(function*() {
  const state = { row: Option.none<AiSettingsRow>(), reads: 0, subscriber: undefined as Subscriber | undefined }
  const context = yield* Layer.build(
    AiSettings.DefaultWithoutDependencies.pipe(
      Layer.provide(makeTestLayer(AiSettingsRepo)({
        find: () => Effect.sync(() => (state.reads++, state.row))
      })),
      Layer.provide(Transactions.Passthrough),
      Layer.provide(cipher),
      Layer.provide(makeTestLayer(Notifications)({
        listen: (_topic, subscriber) => Effect.sync(() => void (state.subscriber = subscriber))
      })),
      Layer.provide(noEnvironment)
    )
  )
  const announce = Effect.suspend(() => state.subscriber!.onNotification("changed"))
  return { settings: Context.get(context, AiSettings), state, announce }
})

describe("AiSettings without a database", () => {
  it.scoped("the environment's settings apply while none are stored", () =>
    Effect.gen(function*() {
      const { settings } = yield* overDoubles
      expect((yield* settings.currentProvider).name).toBe("builtin")
      expect((yield* settings.current).version).toBe("environment")
    }))

  it.scoped("keeps the provider while the version stays, even when the settings are read again", () =>
    Effect.gen(function*() {
      const { announce, settings, state } = yield* overDoubles
      state.row = Option.some(openAiRow(1))
      const first = yield* settings.currentProvider
      expect(first.name).toBe("openai")
      yield* TestClock.adjust(Duration.sum(settingsCacheTimeToLive, "1 second"))
      const afterTimeToLive = yield* settings.currentProvider
      yield* announce
      const afterAnnouncement = yield* settings.currentProvider
      expect(state.reads).toBe(3)
      // The very provider: what it learnt of its server (a refused response_format) is kept.
      expect(afterTimeToLive).toBe(first)
      expect(afterAnnouncement).toBe(first)

      state.row = Option.some(openAiRow(2, "http://127.0.0.1:10/v1"))
      yield* announce
      const changed = yield* settings.currentProvider
      expect(changed).not.toBe(first)
      expect(yield* settings.currentProvider).toBe(changed)
    }))

  it.scoped("reads the settings once per time to live; a process told of nothing sees a change after it at the latest", () =>
    Effect.gen(function*() {
      const { settings, state } = yield* overDoubles
      expect((yield* settings.currentProvider).name).toBe("builtin")
      for (let i = 0; i < 5; i++) yield* settings.currentProvider
      expect(state.reads).toBe(1)

      state.row = Option.some(openAiRow(3))
      yield* TestClock.adjust(Duration.subtract(settingsCacheTimeToLive, "1 millis"))
      expect((yield* settings.currentProvider).name).toBe("builtin")
      yield* TestClock.adjust("1 millis")
      expect((yield* settings.currentProvider).name).toBe("openai")
      expect(state.reads).toBe(2)
    }))

  it.scoped("concurrent calls after a change build the new provider once", () =>
    Effect.gen(function*() {
      const { settings, state } = yield* overDoubles
      state.row = Option.some(openAiRow(4))
      const providers = yield* Effect.all(Array.from({ length: 20 }, () => settings.currentProvider), { concurrency: "unbounded" })
      expect(new Set(providers).size).toBe(1)
    }))
})

const admin = (id: string): SignedInUser => ({
  id: UserId.make(id),
  email: "admin@example.com",
  name: "Admin",
  roles: ["admin"],
  sessionId: "session"
})

/** What one process builds over `database`: AiSettings with a subscription of its own. */
const processOn = <E>(database: Layer.Layer<Database.Database, E>) =>
  Layer.build(AiSettings.Default.pipe(
    Layer.provideMerge(Sql.layer),
    Layer.provideMerge(database),
    Layer.provide(cipher),
    Layer.provide(noEnvironment)
  ))

/** Well within the time a process keeps the settings: seeing a change this soon is the announcement's doing. */
const within = Duration.seconds(2)

const eventually = <A, E, R>(check: Effect.Effect<A, E | string, R>) =>
  Effect.retry(check, Schedule.spaced("20 millis").pipe(Schedule.upTo(within)))

const insertAdmin = (context: Context.Context<Database.Database>) =>
  Effect.promise(() =>
    Context.get(context, Database.Database).pool.query<{ id: string }>(
      "insert into users (email, name, password_hash, roles) values ('ai-admin@example.com', 'Admin', 'x', '{admin}') returning id"
    )
  ).pipe(Effect.map((result) => admin(result.rows[0]!.id)))

const nameOf = (settings: AiSettings) => Effect.map(settings.currentProvider, (provider) => provider.name)

const seesProvider = (settings: AiSettings, name: string) =>
  eventually(Effect.filterOrFail(nameOf(settings), (seen) => seen === name, (seen) => `still ${seen}`))

describe("AiSettings across processes", () => {
  it("keeps the settings well past the time the tests allow for an announcement", () => {
    expect(Duration.greaterThan(settingsCacheTimeToLive, within)).toBe(true)
  })

  it.scopedLive("a change made through one instance applies in another on the same database at once", () =>
    Effect.gen(function*() {
      const database = yield* Layer.build(TestDatabase.layer)
      const shared = Layer.succeedContext(database)
      const first = yield* processOn(shared)
      const second = yield* processOn(shared)
      const [one, other] = [Context.get(first, AiSettings), Context.get(second, AiSettings)]
      const user = yield* insertAdmin(database)

      expect(yield* nameOf(other)).toBe("builtin")
      const key = "sk-across-processes-0123456789"
      yield* one.update(user, {
        provider: "openai",
        baseUrl: "http://127.0.0.1:9/v1",
        models: { standard: "medium" },
        embeddingModel: "embedder",
        embeddingDimensions: 8,
        apiKey: Redacted.make(key)
      })
      yield* seesProvider(other, "openai")
      const seen = yield* other.current
      expect(seen.settings.provider === "openai" && seen.settings.apiKey && Redacted.value(seen.settings.apiKey)).toBe(key)

      yield* one.reset(user)
      yield* seesProvider(other, "builtin")
    }))

  it.scopedLive.skipIf(TestDatabase.mode === "embedded")(
    "two processes with pools and connections of their own (needs TEST_DATABASE_URL: one embedded database has one process)",
    () =>
      Effect.gen(function*() {
        const { url } = yield* TestDatabase.createServerDatabase(Option.getOrThrow(TestDatabase.serverUrl))
        yield* Migrator.migrateDirectory.pipe(
          Effect.provide(Sql.layer.pipe(Layer.provideMerge(Database.layerServer({ url, poolMax: 1 }))))
        )
        const first = yield* processOn(Database.layerServer({ url, poolMax: 2 }))
        const second = yield* processOn(Database.layerServer({ url, poolMax: 2 }))
        const [one, other] = [Context.get(first, AiSettings), Context.get(second, AiSettings)]
        const user = yield* insertAdmin(first)

        expect(yield* nameOf(other)).toBe("builtin")
        yield* one.update(user, {
          provider: "openai",
          baseUrl: "http://127.0.0.1:9/v1",
          models: { standard: "medium" },
          embeddingModel: "embedder",
          embeddingDimensions: 8
        })
        yield* seesProvider(other, "openai")
        yield* one.update(user, { provider: "builtin" })
        yield* seesProvider(other, "builtin")
      }),
    60_000
  )
})
