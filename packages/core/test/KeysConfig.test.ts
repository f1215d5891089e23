import { describe, expect, it } from "@effect/vitest"
import { formatConfigError } from "@nestfleet/observability/Main"
import { ConfigError, ConfigProvider, Effect, Option, Redacted } from "effect"
import { KeysConfig } from "../src/KeysConfig.js"

const load = (env: Record<string, string>) =>
  Effect.withConfigProvider(KeysConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))

/** The start-up message for `env`, as Main prints it; it must name the variable, never the value. */
const rejection = (env: Record<string, string>) =>
  Effect.map(Effect.flip(load(env)), (error) => {
    expect(ConfigError.isConfigError(error)).toBe(true)
    const message = formatConfigError(error)
    for (const value of Object.values(env)) expect(message).not.toContain(value)
    return message
  })

const validKey = "0123456789abcdefABCDEF0123456789abcdef0123456789abcdef0123456789"

describe("KeysConfig", () => {
  it.effect("leaves both keys unset when the variables are missing or empty", () =>
    Effect.gen(function*() {
      for (const env of [{}, { JWT_SECRET: "", ENCRYPTION_KEY: "" }]) {
        const keys = yield* load(env)
        expect(Option.isNone(keys.jwtSecret)).toBe(true)
        expect(Option.isNone(keys.encryptionKey)).toBe(true)
      }
    }))

  it.effect("accepts a JWT_SECRET of 32 bytes or more, counting UTF-8 bytes", () =>
    Effect.gen(function*() {
      for (const secret of ["s".repeat(32), "s".repeat(200), "\u20ac".repeat(11)]) {
        const keys = yield* load({ JWT_SECRET: secret })
        expect(Option.map(keys.jwtSecret, Redacted.value)).toEqual(Option.some(secret))
      }
    }))

  it.effect("rejects a shorter JWT_SECRET, naming the variable", () =>
    Effect.gen(function*() {
      for (const secret of ["s".repeat(31), "short", "\u00e9".repeat(15)]) {
        const message = yield* rejection({ JWT_SECRET: secret })
        expect(message).toContain("JWT_SECRET: Expected at least 32 bytes")
      }
    }))

  it.effect("accepts an ENCRYPTION_KEY of 64 hex digits in either case", () =>
    Effect.gen(function*() {
      const keys = yield* load({ ENCRYPTION_KEY: validKey })
      expect(Option.map(keys.encryptionKey, Redacted.value)).toEqual(Option.some(validKey))
    }))

  it.effect("rejects an ENCRYPTION_KEY that is not 64 hex digits, naming the variable", () =>
    Effect.gen(function*() {
      for (const key of [validKey.slice(1), `${validKey}0`, `${validKey.slice(1)}g`, `${validKey.slice(2)} 0`]) {
        const message = yield* rejection({ ENCRYPTION_KEY: key })
        expect(message).toContain("ENCRYPTION_KEY: Expected 64 hexadecimal characters (a 32-byte key")
      }
    }))

  it.effect("reports both variables when both are invalid", () =>
    Effect.gen(function*() {
      const message = yield* rejection({ JWT_SECRET: "too-short-secret", ENCRYPTION_KEY: "not-a-key" })
      expect(message).toContain("JWT_SECRET")
      expect(message).toContain("ENCRYPTION_KEY")
    }))
})
