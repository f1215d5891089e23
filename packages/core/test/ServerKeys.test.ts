import { describe, expect, it } from "@effect/vitest"
import { type Database, inMemory } from "@nestfleet/db/Database"
import { formatConfigError } from "@nestfleet/observability/Main"
import { ConfigError, ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AccessTokens } from "../src/AccessTokens.js"
import { SecretCipher } from "../src/SecretCipher.js"
import { ServerKeys } from "../src/ServerKeys.js"
import * as StubDatabase from "./StubDatabase.js"

const jwtSecret = "a-jwt-secret-of-at-least-32-bytes-for-tests"
const encryptionKey = "c4".repeat(32)

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const keysOn = (database: Layer.Layer<Database>, env: Record<string, string> = {}) =>
  ServerKeys.pipe(Effect.provide(ServerKeys.Default), Effect.provide(database), withEnv(env))

const bytes = (key: Redacted.Redacted<Uint8Array>) => Buffer.from(Redacted.value(key))

/** The start-up message for a refused configuration, as Main prints it: names, never values. */
const messageOf = (error: unknown, env: Record<string, string>) => {
  expect(ConfigError.isConfigError(error)).toBe(true)
  const message = formatConfigError(error as ConfigError.ConfigError)
  for (const value of Object.values(env)) expect(message).not.toContain(value)
  return message
}

const freshDataDir = () => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-keys-")), "data")

describe("ServerKeys", () => {
  it.effect("against a server, takes both keys from their variables", () =>
    Effect.gen(function*() {
      const keys = yield* keysOn(StubDatabase.server, { JWT_SECRET: jwtSecret, ENCRYPTION_KEY: encryptionKey })
      expect(bytes(keys.jwtSecret).toString("utf8")).toBe(jwtSecret)
      expect(bytes(keys.encryptionKey).toString("hex")).toBe(encryptionKey)
      expect(String(keys.jwtSecret)).not.toContain(jwtSecret)
    }))

  it.effect("against a server, refuses to start naming every missing key at once", () =>
    Effect.gen(function*() {
      const neither = messageOf(yield* Effect.flip(keysOn(StubDatabase.server)), {})
      expect(neither).toMatch(/^ {2}JWT_SECRET: required when DATABASE_URL is set/m)
      expect(neither).toMatch(/^ {2}ENCRYPTION_KEY: required when DATABASE_URL is set/m)

      const env = { JWT_SECRET: jwtSecret }
      const one = messageOf(yield* Effect.flip(keysOn(StubDatabase.server, env)), env)
      expect(one).toMatch(/^ {2}ENCRYPTION_KEY: required when DATABASE_URL is set/m)
      expect(one).not.toContain("JWT_SECRET")
    }))

  it.effect("on an embedded database, generates both keys in the data dir once and reads them after a restart", () =>
    Effect.gen(function*() {
      const dataDir = freshDataDir()
      const first = yield* keysOn(StubDatabase.embedded(dataDir))
      const file = (name: string) => Fs.readFileSync(Path.join(dataDir, name), "utf8").trim()
      expect(file("jwt.secret")).toBe(bytes(first.jwtSecret).toString("hex"))
      expect(file("encryption.key")).toBe(bytes(first.encryptionKey).toString("hex"))
      expect(bytes(first.jwtSecret).equals(bytes(first.encryptionKey))).toBe(false)

      const afterRestart = yield* keysOn(StubDatabase.embedded(dataDir))
      expect(bytes(afterRestart.jwtSecret).equals(bytes(first.jwtSecret))).toBe(true)
      expect(bytes(afterRestart.encryptionKey).equals(bytes(first.encryptionKey))).toBe(true)
    }))

  it.effect("on an embedded database, a variable that is set wins over the data dir, key by key", () =>
    Effect.gen(function*() {
      const dataDir = freshDataDir()
      const keys = yield* keysOn(StubDatabase.embedded(dataDir), { ENCRYPTION_KEY: encryptionKey })
      expect(bytes(keys.encryptionKey).toString("hex")).toBe(encryptionKey)
      expect(Fs.readdirSync(dataDir)).toEqual(["jwt.secret"])
    }))

  it.effect("on an in-memory embedded database, generates fresh keys each time the layer is built", () =>
    Effect.gen(function*() {
      const first = yield* keysOn(StubDatabase.embedded(inMemory))
      const second = yield* keysOn(StubDatabase.embedded(inMemory))
      expect(bytes(first.jwtSecret)).toHaveLength(32)
      expect(bytes(first.encryptionKey)).toHaveLength(32)
      expect(bytes(second.jwtSecret).equals(bytes(first.jwtSecret))).toBe(false)
      expect(bytes(second.encryptionKey).equals(bytes(first.encryptionKey))).toBe(false)
    }))

  it.effect("is resolved once for AccessTokens and SecretCipher built together", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        Layer.mergeAll(AccessTokens.Default, SecretCipher.Default, ServerKeys.Default).pipe(
          Layer.provide(StubDatabase.embedded(inMemory))
        )
      )
      const keys = yield* Effect.provide(ServerKeys, context)
      const tokens = yield* Effect.provide(AccessTokens, context)
      const cipher = yield* Effect.provide(SecretCipher, context)
      // Random keys per resolution: the services hold the very keys in the context only if
      // all three came from one.
      const issued = yield* AccessTokens.fromSecret(Redacted.value(keys.jwtSecret)).issue({
        userId: "8d1c1f1e-0000-4000-8000-000000000001",
        sessionId: "session-1"
      })
      expect(yield* tokens.verify(Redacted.value(issued.token))).toMatchObject({ sessionId: "session-1" })
      const stored = yield* SecretCipher.fromKey(bytes(keys.encryptionKey)).encrypt(Redacted.make("s3cret"))
      expect(Redacted.value(yield* cipher.decrypt(stored))).toBe("s3cret")
    }).pipe(Effect.scoped))
})

describe("ServerKeys.config", () => {
  const load = (env: Record<string, string>) => withEnv(env)(ServerKeys.config)

  it.effect("with DATABASE_URL, refuses a start without the keys before anything connects, naming each", () =>
    Effect.gen(function*() {
      const env = { DATABASE_URL: "postgresql://nestfleet:pw-in-url@127.0.0.1:1/nowhere" }
      const message = messageOf(yield* Effect.flip(load(env)), env)
      expect(message).toMatch(/^ {2}JWT_SECRET: required when DATABASE_URL is set/m)
      expect(message).toMatch(/^ {2}ENCRYPTION_KEY: required when DATABASE_URL is set/m)
      const keys = yield* load({ ...env, JWT_SECRET: jwtSecret, ENCRYPTION_KEY: encryptionKey })
      expect(Option.map(keys.encryptionKey, Redacted.value)).toEqual(Option.some(encryptionKey))
    }))

  it.effect("without DATABASE_URL, leaves both keys optional", () =>
    Effect.gen(function*() {
      const keys = yield* load({})
      expect(Option.isNone(keys.jwtSecret) && Option.isNone(keys.encryptionKey)).toBe(true)
    }))
})
