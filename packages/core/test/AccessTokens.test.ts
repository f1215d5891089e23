import { describe, expect, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Duration, Effect, Layer, Redacted } from "effect"
import { generateKeyPair, SignJWT } from "jose"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type Database, inMemory } from "@nestfleet/db/Database"
import { accessTokenLifetime, AccessTokens, InvalidAccessToken } from "../src/AccessTokens.js"
import * as StubDatabase from "./StubDatabase.js"

const secret = Crypto.randomBytes(32)
const tokens = AccessTokens.fromSecret(secret)
const claims = { userId: "8d1c1f1e-0000-4000-8000-000000000001", sessionId: "session-42" }

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const decodePart = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"))

const issued = Effect.map(tokens.issue(claims), ({ token }) => Redacted.value(token))

/** A token signed by hand, for the cases `issue` would never produce. */
const signed = (options: {
  readonly alg?: string
  readonly key?: Parameters<SignJWT["sign"]>[0]
  readonly payload?: Record<string, unknown>
  readonly issuer?: string
  readonly audience?: string
  readonly subject?: string | undefined
}) =>
  Effect.promise(() => {
    const now = Math.floor(Date.now() / 1000)
    let jwt = new SignJWT({ sid: claims.sessionId, ...options.payload })
      .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
      .setIssuer(options.issuer ?? "nestfleet")
      .setAudience(options.audience ?? "nestfleet-api")
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti(Crypto.randomUUID())
    if (!("subject" in options)) jwt = jwt.setSubject(claims.userId)
    else if (options.subject !== undefined) jwt = jwt.setSubject(options.subject)
    return jwt.sign(options.key ?? secret)
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
  it.effect("issues an HS256 token with our claims that verifies to the user and session", () =>
    Effect.gen(function*() {
      const before = Date.now()
      const { expiresAt, token } = yield* tokens.issue(claims)
      const value = Redacted.value(token)
      expect(String(token)).not.toContain(value)
      const [header, payload] = value.split(".").slice(0, 2).map(decodePart) as [Record<string, unknown>, Record<string, unknown>]
      expect(header).toEqual({ alg: "HS256", typ: "JWT" })
      expect(payload).toMatchObject({ iss: "nestfleet", aud: "nestfleet-api", sub: claims.userId, sid: claims.sessionId })
      expect(payload.exp).toBe((payload.iat as number) + 15 * 60)
      expect(typeof payload.jti).toBe("string")
      expect(Duration.toMinutes(accessTokenLifetime)).toBe(15)
      expect(expiresAt.getTime()).toBe((payload.exp as number) * 1000)
      expect(expiresAt.getTime() - before).toBeGreaterThan(14 * 60 * 1000)
      expect(yield* tokens.verify(value)).toEqual(claims)
    }))

  it.effect("gives every token its own jti", () =>
    Effect.gen(function*() {
      const [first, second] = yield* Effect.all([issued, issued])
      expect(decodePart(first.split(".")[1]!).jti).not.toEqual(decodePart(second.split(".")[1]!).jti)
    }))

  it.effect("refuses an expired token", () =>
    Effect.gen(function*() {
      const past = AccessTokens.fromSecret(secret, () => new Date(Date.now() - 16 * 60 * 1000))
      const { token } = yield* past.issue(claims)
      yield* expectRejected(Redacted.value(token), "expired")
      // Still within its lifetime by the clock it was issued with.
      expect(yield* past.verify(Redacted.value(token))).toEqual(claims)
    }))

  it.effect("accepts a token from a process whose clock runs a few seconds ahead", () =>
    Effect.gen(function*() {
      const ahead = AccessTokens.fromSecret(secret, () => new Date(Date.now() + 3_000))
      const { token } = yield* ahead.issue(claims)
      expect(yield* tokens.verify(Redacted.value(token))).toEqual(claims)
    }))

  it.effect("refuses a token whose payload was altered", () =>
    Effect.gen(function*() {
      const [header, payload, signature] = (yield* issued).split(".") as [string, string, string]
      const altered = base64url({ ...decodePart(payload), sub: "someone-else" })
      yield* expectRejected([header, altered, signature].join("."), "bad signature")
    }))

  it.effect("refuses a token whose signature was altered", () =>
    Effect.gen(function*() {
      const [header, payload, signature] = (yield* issued).split(".") as [string, string, string]
      const bytes = Buffer.from(signature, "base64url")
      bytes[0] = bytes[0]! ^ 0x01
      yield* expectRejected([header, payload, bytes.toString("base64url")].join("."), "bad signature")
      yield* expectRejected([header, payload, ""].join("."), "bad signature")
    }))

  it.effect("refuses an unsigned token (alg: none)", () =>
    Effect.gen(function*() {
      const payload = (yield* issued).split(".")[1]!
      const header = base64url({ alg: "none", typ: "JWT" })
      yield* expectRejected(`${header}.${payload}.`, "algorithm not allowed")
      yield* expectRejected(`${base64url({ alg: "NONE", typ: "JWT" })}.${payload}.`, "algorithm not allowed")
    }))

  it.effect("refuses other algorithms, even HS512 with the right secret", () =>
    Effect.gen(function*() {
      yield* expectRejected(yield* signed({ alg: "HS512" }), "algorithm not allowed")
      const { privateKey } = yield* Effect.promise(() => generateKeyPair("RS256"))
      yield* expectRejected(yield* signed({ alg: "RS256", key: privateKey }), "algorithm not allowed")
      // An HS256 header over an HS512 signature is just a bad signature.
      const [, payload, signature] = (yield* signed({ alg: "HS512" })).split(".") as [string, string, string]
      yield* expectRejected(`${base64url({ alg: "HS256", typ: "JWT" })}.${payload}.${signature}`, "bad signature")
    }))

  it.effect("refuses a token signed with another secret", () =>
    Effect.gen(function*() {
      yield* expectRejected(yield* signed({ key: Crypto.randomBytes(32) }), "bad signature")
      const other = AccessTokens.fromSecret(Crypto.randomBytes(32))
      yield* expectRejected(yield* issued, "bad signature", other)
    }))

  it.effect("refuses a wrong issuer or audience", () =>
    Effect.gen(function*() {
      expect(yield* tokens.verify(yield* signed({}))).toEqual(claims)
      yield* expectRejected(yield* signed({ issuer: "someone-else" }), "wrong issuer")
      yield* expectRejected(yield* signed({ audience: "nestfleet-console" }), "wrong audience")
    }))

  it.effect("refuses a token without a user or session", () =>
    Effect.gen(function*() {
      yield* expectRejected(yield* signed({ subject: undefined }), "missing sub")
      yield* expectRejected(yield* signed({ payload: { sid: undefined } }), "missing sid")
      yield* expectRejected(yield* signed({ payload: { sid: 42 } }), "missing sid")
      yield* expectRejected(yield* signed({ payload: { sid: "" } }), "missing sid")
      yield* expectRejected(yield* signed({ subject: "" }), "missing sub")
    }))

  it.effect("refuses what is not a JWT at all", () =>
    Effect.gen(function*() {
      for (const garbage of ["", "abc", "a.b.c", "a.b", `${base64url({ alg: "HS256" })}.not-json.sig`]) {
        yield* expectRejected(garbage, /malformed|bad signature/)
      }
    }))
})

describe("AccessTokens.layer", () => {
  const build = (database: Layer.Layer<Database>, env: Record<string, string> = {}) =>
    AccessTokens.pipe(
      Effect.provide(AccessTokens.layer.pipe(Layer.provide(database))),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    )

  it.effect("requires JWT_SECRET against a server", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(build(StubDatabase.server))
      expect(ConfigError.isConfigError(error)).toBe(true)
      expect(error).toMatchObject({ _op: "MissingData", path: ["JWT_SECRET"] })
    }))

  it.effect("signs with JWT_SECRET when it is set", () =>
    Effect.gen(function*() {
      const configured = yield* build(StubDatabase.server, { JWT_SECRET: secret.toString("hex") })
      const { token } = yield* configured.issue(claims)
      const sameSecret = AccessTokens.fromSecret(Buffer.from(secret.toString("hex"), "utf8"))
      expect(yield* sameSecret.verify(Redacted.value(token))).toEqual(claims)
    }))

  it.effect("on an embedded database keeps a generated secret in the data dir across restarts", () =>
    Effect.gen(function*() {
      const dataDir = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-jwt-")), "data")
      const { token } = yield* Effect.flatMap(build(StubDatabase.embedded(dataDir)), (t) => t.issue(claims))
      expect(Fs.readFileSync(Path.join(dataDir, "jwt.secret"), "utf8").trim()).toMatch(/^[0-9a-f]{64}$/)
      const afterRestart = yield* build(StubDatabase.embedded(dataDir))
      expect(yield* afterRestart.verify(Redacted.value(token))).toEqual(claims)
    }))

  it.effect("on an in-memory embedded database uses one random secret for the process", () =>
    Effect.gen(function*() {
      const { token } = yield* Effect.flatMap(build(StubDatabase.embedded(inMemory)), (t) => t.issue(claims))
      const second = yield* build(StubDatabase.embedded(inMemory))
      expect(yield* second.verify(Redacted.value(token))).toEqual(claims)
    }))
})
