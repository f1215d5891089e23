/**
 * Short-lived access tokens: a JWT signed with HS256 that names the user and the session it
 * belongs to. Fifteen minutes bounds how long a token outlives a revoked session; the
 * session (and its refresh) is what lasts.
 *
 * Verification accepts exactly what `issue` produces: HS256 and nothing else (no `none`, no
 * algorithm picked by the token's header), our issuer and audience, an unexpired `exp`, and
 * string `sub` and `sid` claims.
 */
import { Database, inMemory } from "@nestfleet/db/Database"
import { ConfigError, Data, Duration, Effect, Option, Redacted } from "effect"
import { errors, jwtVerify, SignJWT } from "jose"
import * as Crypto from "node:crypto"
import * as DataDirSecrets from "./DataDirSecrets.js"
import { KeysConfig } from "./KeysConfig.js"

export const accessTokenLifetime = Duration.minutes(15)

const issuer = "nestfleet"
const audience = "nestfleet-api"
const algorithm = "HS256"
const secretBytes = 32
const clockToleranceSeconds = 5

/** Why a token was refused, for logs; the client only ever learns that it was. Never the token. */
export class InvalidAccessToken extends Data.TaggedError("InvalidAccessToken")<{
  readonly reason: string
}> {}

export interface IssuedAccessToken {
  readonly token: Redacted.Redacted<string>
  readonly expiresAt: Date
}

export interface AccessTokenClaims {
  readonly userId: string
  readonly sessionId: string
}

const reasonOf = (error: unknown): string => {
  if (error instanceof errors.JWTExpired) return "expired"
  if (error instanceof errors.JWSSignatureVerificationFailed) return "bad signature"
  if (error instanceof errors.JOSEAlgNotAllowed) return "algorithm not allowed"
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss") return "wrong issuer"
    if (error.claim === "aud") return "wrong audience"
    if (error.reason === "missing") return `missing ${error.claim}`
    return `claim ${error.claim}: ${error.reason}`
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "malformed"
  if (error instanceof errors.JOSENotSupported) return "not supported"
  return "invalid"
}

const nonEmptyString = (value: unknown): value is string => typeof value === "string" && value.length > 0

const make = (secret: Uint8Array, clock: () => Date) => {
  const lifetimeSeconds = Duration.toSeconds(accessTokenLifetime)

  const issue = Effect.fn("AccessTokens.issue")(function*(claims: AccessTokenClaims) {
    const issuedAt = Math.floor(clock().getTime() / 1000)
    const expiresAt = issuedAt + lifetimeSeconds
    const token = yield* Effect.promise(() =>
      new SignJWT({ sid: claims.sessionId })
        .setProtectedHeader({ alg: algorithm, typ: "JWT" })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(claims.userId)
        .setIssuedAt(issuedAt)
        .setExpirationTime(expiresAt)
        .setJti(Crypto.randomUUID())
        .sign(secret)
    )
    return { token: Redacted.make(token), expiresAt: new Date(expiresAt * 1000) } satisfies IssuedAccessToken
  })

  const verify = Effect.fn("AccessTokens.verify")(function*(token: string) {
    const { payload } = yield* Effect.tryPromise({
      try: () =>
        jwtVerify(token, secret, {
          algorithms: [algorithm],
          issuer,
          audience,
          currentDate: clock(),
          // Several API processes may issue and verify; a clock a little ahead of ours must
          // not make a fresh token look issued in the future.
          clockTolerance: clockToleranceSeconds,
          // A token older than our lifetime is refused even if its `exp` says otherwise.
          maxTokenAge: lifetimeSeconds,
          requiredClaims: ["sub", "sid", "exp", "iat"]
        }),
      catch: (error) => new InvalidAccessToken({ reason: reasonOf(error) })
    })
    if (!nonEmptyString(payload.sub)) return yield* new InvalidAccessToken({ reason: "missing sub" })
    if (!nonEmptyString(payload.sid)) return yield* new InvalidAccessToken({ reason: "missing sid" })
    return { userId: payload.sub, sessionId: payload.sid } satisfies AccessTokenClaims
  })

  return { issue, verify } as const
}

/** For an embedded database in memory: sessions die with the process, and so may the key. */
let processSecret: Buffer | undefined

/**
 * JWT_SECRET when set. The embedded setup otherwise keeps a generated secret in its data
 * dir, so tokens survive a restart. Against a PostgreSQL server it is required: several
 * API processes must share one secret, and a generated one would differ per process.
 */
const secretFromEnvironment = Effect.gen(function*() {
  const keys = yield* KeysConfig
  const { backend } = yield* Database
  if (Option.isSome(keys.jwtSecret)) return Buffer.from(Redacted.value(keys.jwtSecret.value), "utf8")
  if (backend._tag === "Server") {
    return yield* Effect.fail(
      ConfigError.MissingData(["JWT_SECRET"], "JWT_SECRET is required when DATABASE_URL is set (at least 32 bytes)")
    )
  }
  if (backend.dataDir === inMemory) return processSecret ??= Crypto.randomBytes(secretBytes)
  return yield* DataDirSecrets.readOrCreate(backend.dataDir, "jwt.secret", secretBytes)
})

export class AccessTokens extends Effect.Service<AccessTokens>()("@nestfleet/core/AccessTokens", {
  effect: Effect.map(secretFromEnvironment, (secret) => make(secret, () => new Date()))
}) {
  /**
   * Tokens signed with `secret` (at least 32 bytes). `clock` is when "now" is, for issuing
   * and verifying alike: a clock in the past mints tokens that are already expired.
   */
  static readonly fromSecret = (secret: Uint8Array, clock: () => Date = () => new Date()): AccessTokens =>
    new AccessTokens(make(secret, clock))

  /** The secret from JWT_SECRET or the data dir (see `secretFromEnvironment`); needs `Database`. */
  static readonly layer = AccessTokens.Default
}
