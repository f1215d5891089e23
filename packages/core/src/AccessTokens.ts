/**
 * Short-lived access tokens: a JWT signed with HS256 that names the user and the session it
 * belongs to. Fifteen minutes bounds how long a token outlives a revoked session; the
 * session (and its refresh) is what lasts.
 *
 * Verification accepts exactly what `issue` produces: HS256 and nothing else (no `none`, no
 * algorithm picked by the token's header), our issuer and audience, an unexpired `exp`, and
 * string `sub` and `sid` claims.
 *
 * The secret comes from `ServerKeys`; "now" is Effect's `Clock`, for issuing and verifying
 * alike. A test of a service that sits on this one (Sessions, the auth middleware) gives it
 * a fixed secret and lets `it.effect`'s `TestClock` decide the time, so expiry is a matter of
 * `TestClock.adjust` rather than of waiting:
 *
 *   const tokens = Layer.succeed(AccessTokens, AccessTokens.fromSecret(Buffer.alloc(32, 7)))
 *   // … issue, then TestClock.adjust("16 minutes"), and verify fails with "expired".
 */
import { Clock, Data, Duration, Effect, Redacted } from "effect"
import { errors, jwtVerify, SignJWT } from "jose"
import * as Crypto from "node:crypto"
import { ServerKeys } from "./ServerKeys.js"

const lifetimeSeconds = Duration.toSeconds(Duration.minutes(15))

const issuer = "nestfleet"
const audience = "nestfleet-api"
const algorithm = "HS256"
const clockToleranceSeconds = 5

/** Why a token was refused, for logs; the client only ever learns that it was. Never the token. */
export class InvalidAccessToken extends Data.TaggedError("InvalidAccessToken")<{
  readonly reason: string
}> {}

interface IssuedAccessToken {
  readonly token: Redacted.Redacted<string>
  readonly expiresAt: Date
}

interface AccessTokenClaims {
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

const make = (secret: Uint8Array) => {
  const issue = Effect.fn("AccessTokens.issue")(function*(claims: AccessTokenClaims) {
    const issuedAt = Math.floor((yield* Clock.currentTimeMillis) / 1000)
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
    const now = new Date(yield* Clock.currentTimeMillis)
    const { payload } = yield* Effect.tryPromise({
      try: () =>
        jwtVerify(token, secret, {
          algorithms: [algorithm],
          issuer,
          audience,
          currentDate: now,
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

export class AccessTokens extends Effect.Service<AccessTokens>()("@nestfleet/core/AccessTokens", {
  effect: Effect.map(ServerKeys, (keys) => make(Redacted.value(keys.jwtSecret))),
  dependencies: [ServerKeys.Default]
}) {
  /** Tokens signed with `secret` (at least 32 bytes), for tests and tools: no `ServerKeys` needed. */
  static readonly fromSecret = (secret: Uint8Array): AccessTokens => new AccessTokens(make(secret))
}
