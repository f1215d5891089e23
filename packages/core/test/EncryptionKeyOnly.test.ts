/**
 * The worker's cipher: it reads the AI settings' stored key, so it needs the encryption key —
 * and only that one: it signs no tokens, and is not given JWT_SECRET (docker-compose.yml).
 */
import { describe, expect, it } from "@effect/vitest"
import { formatConfigError } from "@nestfleet/observability/Main"
import { ConfigError, ConfigProvider, Effect, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { SecretCipher } from "../src/SecretCipher.js"
import { ServerKeys } from "../src/ServerKeys.js"
import * as StubDatabase from "./StubDatabase.js"

const encryptionKey = "d7".repeat(32)

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("SecretCipher.EncryptionKeyOnly", () => {
  it.effect("against a server, takes ENCRYPTION_KEY and needs no JWT_SECRET", () =>
    Effect.gen(function*() {
      const cipher = yield* SecretCipher.pipe(
        Effect.provide(SecretCipher.EncryptionKeyOnly),
        Effect.provide(StubDatabase.server),
        withEnv({ ENCRYPTION_KEY: encryptionKey })
      )
      const stored = yield* SecretCipher.fromKey(Buffer.from(encryptionKey, "hex")).encrypt(Redacted.make("sk-shared"))
      expect(Redacted.value(yield* cipher.decrypt(stored))).toBe("sk-shared")
    }))

  it.effect("against a server, refuses to start without ENCRYPTION_KEY, naming it alone", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        SecretCipher.pipe(Effect.provide(SecretCipher.EncryptionKeyOnly), Effect.provide(StubDatabase.server), withEnv({}))
      )
      expect(ConfigError.isConfigError(error)).toBe(true)
      const message = formatConfigError(error as ConfigError.ConfigError)
      expect(message).toMatch(/^ {2}ENCRYPTION_KEY: required when DATABASE_URL is set/m)
      expect(message).not.toContain("JWT_SECRET")
    }))

  it.effect("on an embedded database, reads the data dir's key as the API does, and makes no jwt.secret", () =>
    Effect.gen(function*() {
      const dataDir = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-cipher-")), "data")
      const keys = yield* ServerKeys.pipe(Effect.provide(ServerKeys.Default), Effect.provide(StubDatabase.embedded(dataDir)), withEnv({}))
      Fs.rmSync(Path.join(dataDir, "jwt.secret"))
      const cipher = yield* SecretCipher.pipe(
        Effect.provide(SecretCipher.EncryptionKeyOnly),
        Effect.provide(StubDatabase.embedded(dataDir)),
        withEnv({})
      )
      const stored = yield* SecretCipher.fromKey(Buffer.from(Redacted.value(keys.encryptionKey))).encrypt(Redacted.make("x"))
      expect(Redacted.value(yield* cipher.decrypt(stored))).toBe("x")
      expect(Fs.readdirSync(dataDir)).toEqual(["encryption.key"])
    }))
})

describe("ServerKeys.encryptionKeyConfig", () => {
  it.effect("with DATABASE_URL, requires ENCRYPTION_KEY only", () =>
    Effect.gen(function*() {
      const env = { DATABASE_URL: "postgresql://nestfleet:pw-in-url@127.0.0.1:1/nowhere" }
      const error = yield* Effect.flip(withEnv(env)(ServerKeys.encryptionKeyConfig))
      const message = formatConfigError(error)
      expect(message).toMatch(/^ {2}ENCRYPTION_KEY: required when DATABASE_URL is set/m)
      expect(message).not.toContain("JWT_SECRET")
      expect(message).not.toContain("pw-in-url")
      yield* withEnv({ ...env, ENCRYPTION_KEY: encryptionKey })(ServerKeys.encryptionKeyConfig)
      yield* withEnv({})(ServerKeys.encryptionKeyConfig)
    }))
})
