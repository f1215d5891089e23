import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import * as Crypto from "node:crypto"
import { maximumLength, minimumLength, Passwords } from "../src/Passwords.js"

const secret = (value: string) => Redacted.make(value)
const password = secret("correct horse battery staple")

const withPasswords = <A, E>(f: (passwords: Passwords) => Effect.Effect<A, E>) =>
  Effect.flatMap(Passwords, f).pipe(Effect.provide(Passwords.Default))

/** A hash as an earlier version with other parameters would have stored it. */
const legacyHash = (value: string, N: number) => {
  const salt = Crypto.randomBytes(16)
  const hash = Crypto.scryptSync(value, salt, 64, { N, r: 8, p: 1 })
  return `scrypt$N=${N},r=8,p=1$${salt.toString("base64")}$${hash.toString("base64")}`
}

describe("Passwords", () => {
  it.effect("hashes in the documented format and verifies the same password", () =>
    withPasswords((passwords) =>
      Effect.gen(function*() {
        const stored = yield* passwords.hash(password)
        expect(stored).toMatch(/^scrypt\$N=32768,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{86}==$/)
        expect(stored).not.toContain("horse")
        expect(yield* passwords.verify(password, stored)).toBe(true)
        expect(yield* passwords.verify(secret("correct horse battery stapler"), stored)).toBe(false)
        expect(yield* passwords.verify(secret(""), stored)).toBe(false)
      })
    ))

  it.effect("salts every hash: the same password hashes differently twice, and both verify", () =>
    withPasswords((passwords) =>
      Effect.gen(function*() {
        const [first, second] = yield* Effect.all([passwords.hash(password), passwords.hash(password)], {
          concurrency: "unbounded"
        })
        expect(first).not.toEqual(second)
        expect(first.split("$")[2]).not.toEqual(second.split("$")[2])
        expect(yield* passwords.verify(password, first)).toBe(true)
        expect(yield* passwords.verify(password, second)).toBe(true)
      })
    ))

  it.effect("matches a password however its accents are encoded (NFKC)", () =>
    withPasswords((passwords) =>
      Effect.gen(function*() {
        const composed = "Ma\u00f1ana-en-la-playa"
        const decomposed = "Man\u0303ana-en-la-playa"
        const stored = yield* passwords.hash(secret(composed))
        expect(yield* passwords.verify(secret(decomposed), stored)).toBe(true)
      })
    ))

  it.effect("reads the parameters from the stored hash, so hashes made with older ones still verify", () =>
    withPasswords((passwords) =>
      Effect.gen(function*() {
        const old = legacyHash("correct horse battery staple", 16384)
        expect(yield* passwords.verify(password, old)).toBe(true)
        expect(yield* passwords.verify(secret("wrong password!"), old)).toBe(false)
        expect(passwords.needsRehash(old)).toBe(true)
        expect(passwords.needsRehash(yield* passwords.hash(password))).toBe(false)
        expect(passwords.needsRehash("not a hash")).toBe(true)
      })
    ))

  it.effect("answers false, without failing or dying, for a stored value it cannot read", () =>
    withPasswords((passwords) =>
      Effect.gen(function*() {
        const good = yield* passwords.hash(password)
        const [, , salt, hash] = good.split("$")
        const malformed = [
          "",
          "plaintext password",
          "scrypt",
          "scrypt$N=32768,r=8,p=1",
          `scrypt$N=32768,r=8,p=1$${salt}`,
          `scrypt$N=32768,r=8,p=1$${salt}$`,
          `scrypt$N=32768,r=8,p=1$${salt}$${hash}$extra`,
          `scrypt$N=32768,r=8,p=1$$${hash}`,
          `scrypt$N=32767,r=8,p=1$${salt}$${hash}`, // not a power of two
          `scrypt$N=0,r=8,p=1$${salt}$${hash}`,
          `scrypt$N=1073741824,r=8,p=1$${salt}$${hash}`, // would need 1 TiB
          `scrypt$N=32768,r=0,p=1$${salt}$${hash}`,
          `scrypt$N=32768,r=8,p=1$${salt}$not*base64!`,
          `scrypt$N=32768,r=8,p=1$${salt}$${hash!.slice(0, 8)}`, // a 6-byte hash
          `bcrypt$N=32768,r=8,p=1$${salt}$${hash}`,
          `$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW`
        ]
        for (const stored of malformed) {
          expect(yield* passwords.verify(password, stored), stored).toBe(false)
        }
      })
    ))

  // Live: the test clock would measure every duration as zero.
  it.live("verifyAgainstNothing returns false after doing the work of a real verification", () =>
    withPasswords((passwords) =>
      Effect.gen(function*() {
        const stored = yield* passwords.hash(password)
        const time = <A>(effect: Effect.Effect<A>) =>
          Effect.map(Effect.timed(effect), ([duration, result]) => ({ ms: Duration.toMillis(duration), result }))
        // Warm up, then compare: an implementation that skipped scrypt would take ~0 ms.
        yield* passwords.verifyAgainstNothing(password)
        const real = yield* time(passwords.verify(password, stored))
        const nothing = yield* time(passwords.verifyAgainstNothing(password))
        expect(real.result).toBe(true)
        expect(nothing.result).toBe(false)
        expect(yield* passwords.verifyAgainstNothing(secret(""))).toBe(false)
        expect(nothing.ms).toBeGreaterThan(real.ms / 4)
      })
    ))

  it("publishes the length policy", () => {
    expect(minimumLength).toBe(12)
    expect(maximumLength).toBe(1024)
  })
})
