import { describe, expect, it } from "@effect/vitest"
import { Clock, ConfigProvider, Effect, Redacted, TestClock } from "effect"
import { generateKeyPair, SignJWT } from "jose"
import * as Crypto from "node:crypto"
import { AccessTokens, InvalidAccessToken } from "../src/AccessTokens.js"
import * as StubDatabase from "./StubDatabase.js"

const secret = Crypto.randomBytes(32)
const tokens = AccessTokens.fromSecret(secret)
const claims = { userId: "8d1c1f1e-0000-4000-8000-000000000001", sessionId: "session-42" }

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const decodePart = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"))

const issued = Effect.map(tokens.issue(claims), ({ token }) => Redacted.value(token))

/**
 * Every test runs on `it.effect`'s TestClock, set to this instant first: tokens are issued
 * and verified by Effect's Clock, so time moves only when a test moves it.
 */
const now = Date.parse("2025-06-02T09:30:00Z")
const atNow = <A, E>(test: Effect.Effect<A, E>) => Effect.zipRight(TestClock.setTime(now), test)

/** A token signed by hand, for the cases `issue` would never produce. */
const signed = (options: {
  readonly alg?: string
  readonly key?: Parameters<SignJWT["sign"]>[0]
  readonly payload?: Record<string, unknown>
  readonly issuer?: string
  readonly audience?: string
  readonly subject?: string | undefined
}) =>
  Effect.flatMap(Clock.currentTimeMillis, (millis) => {
    const now = Math.floor(millis / 1000)
    let jwt = new SignJWT({ sid: claims.sessionId, ...options.payload })
      .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
      .setIssuer(options.issuer ?? "nestfleet")
      .setAudience(options.audience ?? "nestfleet-api")
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti(Crypto.randomUUID())
    if (!("subject" in options)) jwt = jwt.setSubject(claims.userId)
    else if (options.subject !== undefined) jwt = jwt.setSubject(options.subject)
    return Effect.promise(() => jwt.sign(options.key ?? secret))
  })

/** `token` is refused with `reason`, and the reason does not repeat the token. */
const expectRejected = (token: string, reason: string | RegExp, verifier: AccessTokens = tokens) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(verifier.verify(token))
    expect(error).toBeInstanceOf(InvalidAccessToken)
    expect(error.reason).toMatch(reason)
    if (token !== "") {
      expect(error.reason).not.toContain(token)
      expect(String(error)).not.toContain(token)
    }
  })

describe("AccessTokens", () => {
  it.effect("issues an HS256 token with our claims, for 15 minutes from the Clock's now, that verifies to the user and session", () =>
    atNow(Effect.gen(function*() {
      const { expiresAt, token } = yield* tokens.issue(claims)
      const value = Redacted.value(token)
      expect(String(token)).not.toContain(value)
      const [header, payload] = value.split(".").slice(0, 2).map(decodePart) as [Record<string, unknown>, Record<string, unknown>]
      expect(header).toEqual({ alg: "HS256", typ: "JWT" })
      expect(payload).toMatchObject({ iss: "nestfleet", aud: "nestfleet-api", sub: claims.userId, sid: claims.sessionId })
      expect(payload.iat).toBe(now / 1000)
      expect(payload.exp).toBe(now / 1000 + 15 * 60)
      expect(typeof payload.jti).toBe("string")
      expect(expiresAt).toEqual(new Date(now + 15 * 60 * 1000))
      expect(yield* tokens.verify(value)).toEqual(claims)
    })))

  it.effect("gives every token its own jti", () =>
    atNow(Effect.gen(function*() {
      const [first, second] = yield* Effect.all([issued, issued])
      expect(decodePart(first.split(".")[1]!).jti).not.toEqual(decodePart(second.split(".")[1]!).jti)
    })))

  it.effect("accepts a token for its 15 minutes and 5 seconds of clock tolerance, and refuses it as expired after", () =>
    atNow(Effect.gen(function*() {
      const token = yield* issued
      yield* TestClock.adjust("15 minutes")
      expect(yield* tokens.verify(token)).toEqual(claims)
      yield* TestClock.adjust("4 seconds")
      expect(yield* tokens.verify(token)).toEqual(claims)
      yield* TestClock.adjust("1 second")
      yield* expectRejected(token, "expired")
    })))

  it.effect("accepts a token from a process whose clock runs a few seconds ahead", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now + 3_000)
      const token = yield* issued
      yield* TestClock.setTime(now)
      expect(yield* tokens.verify(token)).toEqual(claims)
    }))

  it.effect("refuses a token whose payload was altered", () =>
    atNow(Effect.gen(function*() {
      const [header, payload, signature] = (yield* issued).split(".") as [string, string, string]
      const altered = base64url({ ...decodePart(payload), sub: "someone-else" })
      yield* expectRejected([header, altered, signature].join("."), "bad signature")
    })))

  it.effect("refuses a token whose signature was altered", () =>
    atNow(Effect.gen(function*() {
      const [header, payload, signature] = (yield* issued).split(".") as [string, string, string]
      const bytes = Buffer.from(signature, "base64url")
      bytes[0] = bytes[0]! ^ 0x01
      yield* expectRejected([header, payload, bytes.toString("base64url")].join("."), "bad signature")
      yield* expectRejected([header, payload, ""].join("."), "bad signature")
    })))

  it.effect("refuses an unsigned token (alg: none)", () =>
    atNow(Effect.gen(function*() {
      const payload = (yield* issued).split(".")[1]!
      const header = base64url({ alg: "none", typ: "JWT" })
      yield* expectRejected(`${header}.${payload}.`, "algorithm not allowed")
      yield* expectRejected(`${base64url({ alg: "NONE", typ: "JWT" })}.${payload}.`, "algorithm not allowed")
    })))

  it.effect("refuses other algorithms, even HS512 with the right secret", () =>
    atNow(Effect.gen(function*() {
      yield* expectRejected(yield* signed({ alg: "HS512" }), "algorithm not allowed")
      const { privateKey } = yield* Effect.promise(() => generateKeyPair("RS256"))
      yield* expectRejected(yield* signed({ alg: "RS256", key: privateKey }), "algorithm not allowed")
      // An HS256 header over an HS512 signature is just a bad signature.
      const [, payload, signature] = (yield* signed({ alg: "HS512" })).split(".") as [string, string, string]
      yield* expectRejected(`${base64url({ alg: "HS256", typ: "JWT" })}.${payload}.${signature}`, "bad signature")
    })))

  it.effect("refuses a token signed with another secret", () =>
    atNow(Effect.gen(function*() {
      yield* expectRejected(yield* signed({ key: Crypto.randomBytes(32) }), "bad signature")
      const other = AccessTokens.fromSecret(Crypto.randomBytes(32))
      yield* expectRejected(yield* issued, "bad signature", other)
    })))

  it.effect("refuses a wrong issuer or audience", () =>
    atNow(Effect.gen(function*() {
      expect(yield* tokens.verify(yield* signed({}))).toEqual(claims)
      yield* expectRejected(yield* signed({ issuer: "someone-else" }), "wrong issuer")
      yield* expectRejected(yield* signed({ audience: "nestfleet-console" }), "wrong audience")
    })))

  it.effect("refuses a token without a user or session", () =>
    atNow(Effect.gen(function*() {
      yield* expectRejected(yield* signed({ subject: undefined }), "missing sub")
      yield* expectRejected(yield* signed({ payload: { sid: undefined } }), "missing sid")
      yield* expectRejected(yield* signed({ payload: { sid: 42 } }), "missing sid")
      yield* expectRejected(yield* signed({ payload: { sid: "" } }), "missing sid")
      yield* expectRejected(yield* signed({ subject: "" }), "missing sub")
    })))

  it.effect("refuses what is not a JWT at all", () =>
    atNow(Effect.gen(function*() {
      for (const garbage of ["", "abc", "a.b.c", "a.b", `${base64url({ alg: "HS256" })}.not-json.sig`]) {
        yield* expectRejected(garbage, /malformed|bad signature/)
      }
    })))
})

describe("AccessTokens.Default", () => {
  it.effect("signs with the secret ServerKeys resolves: JWT_SECRET's bytes", () =>
    atNow(Effect.gen(function*() {
      const configured = yield* AccessTokens.pipe(
        Effect.provide(AccessTokens.Default),
        Effect.provide(StubDatabase.server),
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([["JWT_SECRET", secret.toString("hex")], ["ENCRYPTION_KEY", "ab".repeat(32)]])
        ))
      )
      const { token } = yield* configured.issue(claims)
      const sameSecret = AccessTokens.fromSecret(Buffer.from(secret.toString("hex"), "utf8"))
      expect(yield* sameSecret.verify(Redacted.value(token))).toEqual(claims)
      yield* expectRejected(Redacted.value(token), "bad signature")
    })))
})
