/**
 * Channels as two API processes on one PostgreSQL server see them: a change made through
 * one applies in the other as soon as it commits, well within the delivery cache's time to
 * live, and still does after the other lost its LISTEN connection.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Database from "@nestfleet/db/Database"
import * as Migrator from "@nestfleet/db/Migrator"
import { ChannelsRepo } from "@nestfleet/db/ChannelsRepo"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import * as Sql from "@nestfleet/db/Sql"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { ChannelChanges, NewChannel } from "@nestfleet/domain/ChannelsApi"
import { ProductSettings } from "@nestfleet/domain/Products"
import { Context, Duration, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import { Channels, deliveryCacheTimeToLive } from "../src/Channels.js"
import { SecretCipher } from "../src/SecretCipher.js"

const key = randomBytes(32)

/** What one API process builds over the database at `url`. */
const processOn = (url: Redacted.Redacted) =>
  Layer.build(
    Channels.Default.pipe(
      Layer.provideMerge(ProductsRepo.Default),
      Layer.provide(Layer.succeed(SecretCipher, SecretCipher.fromKey(key))),
      Layer.provideMerge(Sql.layer),
      Layer.provideMerge(Database.layerServer({ url, poolMax: 2 }))
    )
  )

/** Well within the delivery cache's time to live: seeing a change this soon is the announcement's doing. */
const within = Duration.seconds(2)

const eventually = <A, E, R>(check: Effect.Effect<A, E | string, R>) =>
  Effect.retry(check, Schedule.spaced("20 millis").pipe(Schedule.upTo(within)))

const listeners = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity
      where application_name = 'nestfleet-listen' and datname = current_database()`,
    (rows) => rows[0]!.n
  ))

/** Cuts every LISTEN connection to the database, as a network fault or a restarted proxy would. */
const terminateListeners = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ terminated: boolean }>`
      select pg_terminate_backend(pid) as terminated from pg_stat_activity
      where application_name = 'nestfleet-listen' and datname = current_database()`,
    (rows) => rows.filter((row) => row.terminated).length
  ))

describe("Channels across API processes", () => {
  it("keeps channels for deliveries well past the time the test allows for an announcement", () => {
    expect(Duration.greaterThan(deliveryCacheTimeToLive, within)).toBe(true)
  })

  it.scopedLive.skipIf(TestDatabase.mode === "embedded")(
    "a channel disabled, re-keyed or re-enabled through one process applies in the other at once (needs TEST_DATABASE_URL: one embedded database has one process)",
    () =>
      Effect.gen(function*() {
        const adminUrl = Option.getOrThrow(TestDatabase.serverUrl)
        const { url } = yield* TestDatabase.createServerDatabase(adminUrl)
        yield* Migrator.migrateDirectory.pipe(
          Effect.provide(Sql.layer.pipe(Layer.provideMerge(Database.layerServer({ url, poolMax: 1 }))))
        )
        const first = yield* processOn(url)
        const second = yield* processOn(url)
        const [one, other] = [Context.get(first, Channels), Context.get(second, Channels)]

        const product = yield* Effect.flatMap(ProductsRepo, (products) =>
          products.insert({ name: "Acme", slug: "acme", settings: new ProductSettings(ProductSettings.defaults) })).pipe(
            Effect.provide(first)
          )
        const { channel, secret } = yield* one.create(product.id, new NewChannel({ type: "webhook", name: "Site", config: {} }))
        const secretSeenByOther = other.forDelivery(channel.id).pipe(
          Effect.map(Option.map(({ secret }) => Redacted.value(secret)))
        )
        expect(yield* secretSeenByOther).toEqual(Option.some(Redacted.value(secret)))

        const rotated = yield* one.rotateSecret(channel.id, undefined)
        yield* eventually(Effect.filterOrFail(
          secretSeenByOther,
          (seen) => Option.getOrNull(seen) === Redacted.value(rotated.secret),
          () => "the other process still has the old secret"
        ))

        yield* one.disable(channel.id)
        yield* eventually(Effect.filterOrFail(secretSeenByOther, Option.isNone, () => "the other process still takes deliveries"))

        // Announcements made while a process is not listening are lost: it forgets what it
        // kept once it listens again.
        const bothListening = Effect.filterOrFail(listeners, (n) => n === 2, (n) => `${n} of 2 processes listen`)
        yield* eventually(bothListening.pipe(Effect.provide(first)))
        expect(yield* terminateListeners.pipe(Effect.provide(first))).toBe(2)
        yield* one.update(channel.id, new ChannelChanges({ enabled: true }))
        yield* eventually(Effect.filterOrFail(secretSeenByOther, Option.isSome, () => "the other process still sees it disabled"))
        yield* eventually(bothListening.pipe(Effect.provide(first)))
        yield* one.disable(channel.id)
        yield* eventually(Effect.filterOrFail(secretSeenByOther, Option.isNone, () => "the other process no longer hears of changes"))
      }),
    60_000
  )
})

const onOneDatabase = Layer.mergeAll(ProductsRepo.Default, ChannelsRepo.Default).pipe(
  Layer.provideMerge(Layer.succeed(SecretCipher, SecretCipher.fromKey(key))),
  Layer.provideMerge(TestDatabase.layer)
)

layer(onOneDatabase, { excludeTestServices: true })("Channels at start", (it) => {
  it.scoped("encrypts the secrets an earlier version stored in the clear, and leaves one it cannot read as it is", () =>
    Effect.gen(function*() {
      const repo = yield* ChannelsRepo
      const product = yield* Effect.flatMap(ProductsRepo, (products) =>
        products.insert({ name: "Legacy", slug: "legacy", settings: new ProductSettings(ProductSettings.defaults) }))
      const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
      const inTheClear = `nfs0.${Buffer.from(secret).toString("base64url")}`
      const legacy = yield* repo.insert({ productId: product.id, type: "webhook", name: "Old", config: {}, secret: inTheClear })
      const unreadable = yield* repo.insert({ productId: product.id, type: "webhook", name: "Bad", config: {}, secret: "nfs0.%%" })

      const channels = Context.get(yield* Layer.build(Channels.Default), Channels)
      const stored = Option.getOrThrow(yield* repo.findById(legacy.id)).secret
      expect(stored).toMatch(/^nfs1\./)
      expect(stored).not.toContain(inTheClear.slice(5))
      const forDelivery = Option.getOrThrow(yield* channels.forDelivery(legacy.id))
      expect(Redacted.value(forDelivery.secret)).toBe(secret)
      expect(Option.getOrThrow(yield* repo.findById(unreadable.id)).secret).toBe("nfs0.%%")

      // A second start finds nothing left to do, and changes nothing.
      yield* Layer.build(Channels.Default)
      expect(Option.getOrThrow(yield* repo.findById(legacy.id)).secret).toBe(stored)
    }))
})
