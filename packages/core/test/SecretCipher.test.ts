import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import * as Crypto from "node:crypto"
import { SecretCipher, SecretDecryptionError } from "../src/SecretCipher.js"
import * as StubDatabase from "./StubDatabase.js"

const plaintext = "xoxb-very-secret-integration-token"
const key = Crypto.randomBytes(32)
const keyHex = key.toString("hex")
const cipher = SecretCipher.fromKey(key)
const otherCipher = SecretCipher.fromKey(Crypto.randomBytes(32))
/** A secret as an earlier version stored it in the clear (nfs0), before a key was required. */
const storedInTheClear = (text: string) => `nfs0.${Buffer.from(text).toString("base64url")}`

const keyIdOf = (k: Buffer) => Crypto.createHash("sha256").update(k).digest("hex").slice(0, 8)

/** Flips one bit of the `index`th dot-separated part of a stored value (its decoded bytes). */
const flipBit = (stored: string, index: number, byte = 0) => {
  const parts = stored.split(".")
  const bytes = Buffer.from(parts[index]!, "base64url")
  bytes[byte] = bytes[byte]! ^ 0x01
  parts[index] = bytes.toString("base64url")
  return parts.join(".")
}

/** Decrypting `stored` fails; the error must not give away the plaintext or the key. */
const expectFailure = (c: SecretCipher, stored: string) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(c.decrypt(stored))
    expect(error).toBeInstanceOf(SecretDecryptionError)
    expect(error._tag).toBe("SecretDecryptionError")
    expect(error.message).not.toContain(plaintext)
    expect(error.message).not.toContain(keyHex)
    expect(error.message).not.toContain(key.toString("base64url"))
    expect(String(error)).not.toContain(plaintext)
    return error.message
  })

const decrypted = (c: SecretCipher, stored: string) => Effect.map(c.decrypt(stored), Redacted.value)

describe("SecretCipher", () => {
  it.effect("round-trips through nfs1.<keyId>.<iv>.<ciphertext>.<tag> without the plaintext showing", () =>
    Effect.gen(function*() {
      const stored = yield* cipher.encrypt(Redacted.make(plaintext))
      const parts = stored.split(".")
      expect(parts).toHaveLength(5)
      expect(parts[0]).toBe("nfs1")
      expect(parts[1]).toBe(keyIdOf(key))
      expect(Buffer.from(parts[2]!, "base64url")).toHaveLength(12)
      expect(Buffer.from(parts[4]!, "base64url")).toHaveLength(16)
      expect(stored).not.toContain(plaintext)
      expect(stored).not.toContain(Buffer.from(plaintext).toString("base64url"))
      expect(yield* decrypted(cipher, stored)).toBe(plaintext)
    }))

  it.effect("round-trips empty and non-ASCII text", () =>
    Effect.gen(function*() {
      for (const text of ["", "p\u00e4ssw\u00f6rd \u{1F511} \u5bc6\u7801", "a.b.c"]) {
        expect(yield* decrypted(cipher, yield* cipher.encrypt(Redacted.make(text)))).toBe(text)
        expect(yield* decrypted(cipher, storedInTheClear(text))).toBe(text)
      }
    }))

  it.effect("uses a fresh IV per value: the same text encrypts differently every time", () =>
    Effect.gen(function*() {
      const values = yield* Effect.all(Array.from({ length: 20 }, () => cipher.encrypt(Redacted.make(plaintext))))
      expect(new Set(values).size).toBe(values.length)
      expect(new Set(values.map((value) => value.split(".")[2])).size).toBe(values.length)
    }))

  it.effect("refuses a value whose IV, ciphertext or tag was altered", () =>
    Effect.gen(function*() {
      const stored = yield* cipher.encrypt(Redacted.make(plaintext))
      for (const [part, byte] of [[2, 0], [2, 11], [3, 0], [3, 10], [4, 0], [4, 15]] as const) {
        const message = yield* expectFailure(cipher, flipBit(stored, part, byte))
        expect(message).toMatch(/failed authentication/)
      }
    }))

  it.effect("refuses a truncated value", () =>
    Effect.gen(function*() {
      const stored = yield* cipher.encrypt(Redacted.make(plaintext))
      const [version, keyId, iv, ciphertext, tag] = stored.split(".") as [string, string, string, string, string]
      const shorterCiphertext = Buffer.from(ciphertext, "base64url").subarray(0, 10).toString("base64url")
      const shorterTag = Buffer.from(tag, "base64url").subarray(0, 12).toString("base64url")
      expect(yield* expectFailure(cipher, [version, keyId, iv, shorterCiphertext, tag].join("."))).toMatch(
        /failed authentication/
      )
      expect(yield* expectFailure(cipher, [version, keyId, iv, "", tag].join("."))).toMatch(/failed authentication/)
      expect(yield* expectFailure(cipher, [version, keyId, iv, ciphertext, shorterTag].join("."))).toMatch(/malformed/)
      expect(yield* expectFailure(cipher, [version, keyId, iv, ciphertext, ""].join("."))).toMatch(/malformed/)
      expect(yield* expectFailure(cipher, [version, keyId, iv.slice(0, 10), ciphertext, tag].join("."))).toMatch(
        /malformed/
      )
      expect(yield* expectFailure(cipher, stored.slice(0, -3))).toMatch(/malformed/)
      expect(yield* expectFailure(cipher, [version, keyId, iv, ciphertext].join("."))).toMatch(/malformed/)
      expect(yield* expectFailure(cipher, stored.slice(0, 20))).toMatch(/malformed/)
    }))

  it.effect("refuses characters outside base64url rather than skipping them", () =>
    Effect.gen(function*() {
      const stored = yield* cipher.encrypt(Redacted.make(plaintext))
      const parts = stored.split(".")
      parts[3] = `${parts[3]}!!`
      expect(yield* expectFailure(cipher, parts.join("."))).toMatch(/malformed/)
    }))

  it.effect("names both key ids when a value was encrypted with another key", () =>
    Effect.gen(function*() {
      const stored = yield* otherCipher.encrypt(Redacted.make(plaintext))
      const otherKeyId = stored.split(".")[1]!
      const message = yield* expectFailure(cipher, stored)
      expect(message).toContain("different key")
      expect(message).toContain(otherKeyId)
      expect(message).toContain(keyIdOf(key))
      // Relabelled with our key id, it is still refused: the header is authenticated data.
      const relabelled = stored.replace(`.${otherKeyId}.`, `.${keyIdOf(key)}.`)
      expect(yield* expectFailure(cipher, relabelled)).toMatch(/failed authentication/)
    }))

  it.effect("refuses unknown formats and versions", () =>
    Effect.gen(function*() {
      const stored = yield* cipher.encrypt(Redacted.make(plaintext))
      expect(yield* expectFailure(cipher, stored.replace(/^nfs1/, "nfs2"))).toMatch(/unknown format version \(nfs2\)/)
      expect(yield* expectFailure(cipher, stored.replace(/^nfs1/, "nfs0"))).toMatch(/\(nfs0\) is malformed/)
      expect(yield* expectFailure(cipher, plaintext)).toMatch(/not in a known format/)
      expect(yield* expectFailure(cipher, "")).toMatch(/not in a known format/)
      expect(yield* expectFailure(cipher, `${plaintext}.${plaintext}`)).toMatch(/not in a known format/)
    }))

  it.effect("still reads nfs0 values an earlier version stored in the clear, so requiring a key lost nothing", () =>
    Effect.gen(function*() {
      expect(yield* decrypted(cipher, storedInTheClear(plaintext))).toBe(plaintext)
      expect(yield* expectFailure(cipher, "nfs0.not*base64url")).toMatch(/malformed/)
      expect(yield* expectFailure(cipher, `nfs0.${Buffer.from([0xff, 0xfe]).toString("base64url")}`)).toMatch(
        /malformed/
      )
    }))

  it("refuses a key that is not 32 bytes", () => {
    expect(() => SecretCipher.fromKey(Crypto.randomBytes(16))).toThrow(/32-byte key/)
  })
})

describe("SecretCipher.Default", () => {
  const build = (env: Record<string, string>) =>
    SecretCipher.pipe(
      Effect.provide(SecretCipher.Default),
      Effect.provide(StubDatabase.server),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    )

  it.effect("encrypts with the key ServerKeys resolves: ENCRYPTION_KEY's bytes", () =>
    Effect.gen(function*() {
      const configured = yield* build({ JWT_SECRET: "j".repeat(32), ENCRYPTION_KEY: keyHex })
      const stored = yield* configured.encrypt(Redacted.make(plaintext))
      expect(stored.split(".")[1]).toBe(keyIdOf(key))
      expect(yield* decrypted(cipher, stored)).toBe(plaintext)
    }))

  it.effect("fails at start on an invalid ENCRYPTION_KEY", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(build({ JWT_SECRET: "j".repeat(32), ENCRYPTION_KEY: "abc" }))
      expect(error).toMatchObject({ _op: "InvalidData", path: ["ENCRYPTION_KEY"] })
    }))
})
