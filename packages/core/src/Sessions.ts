/**
 * Sign-in sessions: sign in with a password, trade the refresh token for new credentials
 * (rotating it), sign out, and authenticate each request's access token.
 *
 * A refresh token is good once. Presenting one that was already traded means someone else
 * has a copy, so the whole session — every token descended from that sign-in — is revoked.
 * Except just after the trade: two tabs refreshing at once present the same token, and
 * within REFRESH_REUSE_GRACE_SECONDS of its rotation the later one gets the successor the
 * first was given (the same refresh token, a fresh access token) instead of signing the user
 * out. The grace holds only while that successor is the session's live token, and never for
 * a revoked or expired session.
 *
 * For that the successor's token is kept on the rotated row, encrypted with SecretCipher,
 * and dropped when the window has passed or the session ends. (Once the successor has been
 * rotated in turn, the copy answers nothing: presenting the older token is then a reuse.)
 * The alternative — deriving the successor from the presented token with a server key —
 * keeps no copy, but whoever had that key and had once seen a token could compute every
 * later token of its session, silently; a copy lives for seconds and is nothing without the
 * key.
 *
 * Every change to a user's sessions — a refresh, a sign-out, a revocation — first locks the
 * user's row, so they take turns (see SessionsRepo): two refreshes of one session cannot
 * deadlock, and a sign-out or password change that waited for a refresh revokes what that
 * refresh handed out.
 *
 * Time comes from Effect's `Clock` and is handed to the repository, so a `TestClock` drives
 * expiry and the grace window. To run the service over test doubles, give it (as
 * `packages/core/test/Sessions.test.ts` does):
 *
 *   Sessions.DefaultWithoutDependencies.pipe(Layer.provide([
 *     makeTestLayer(SessionsRepo)({ … }), makeTestLayer(UsersRepo)({ … }),
 *     makeTestLayer(LoginThrottle)({ … }), Transactions.Passthrough, Passwords.Default,
 *     Layer.succeed(AccessTokens, AccessTokens.fromSecret(secret)),
 *     Layer.succeed(SecretCipher, SecretCipher.fromKey(key))
 *   ]))
 *
 * with `makeTestLayer` from `@nestfleet/domain/testing/TestLayer` (an unstubbed repository
 * method dies, naming itself) and `it.effect`'s `TestClock` as the clock.
 */
import { Transactions } from "@nestfleet/db/Transactions"
import { type SessionRow, SessionsRepo } from "@nestfleet/db/SessionsRepo"
import { type UserRow, UsersRepo } from "@nestfleet/db/UsersRepo"
import type { SignedInUser } from "@nestfleet/domain/Access"
import { InvalidCredentials, InvalidRefreshToken, Session, SessionUser } from "@nestfleet/domain/AuthApi"
import { Forbidden, Unauthorized } from "@nestfleet/domain/Errors"
import { hasRole, type Role, UserId } from "@nestfleet/domain/Users"
import { Clock, Data, Effect, Option, Redacted, Schema } from "effect"
import { AccessTokens } from "./AccessTokens.js"
import { AuthConfig } from "./AuthConfig.js"
import { LoginThrottle } from "./LoginThrottle.js"
import { Passwords } from "./Passwords.js"
import * as RefreshTokens from "./RefreshTokens.js"
import { SecretCipher } from "./SecretCipher.js"
import { orDieUnexpected } from "./Unexpected.js"

/** What a sign-in or refresh hands out: the session for the body, the refresh token for the cookie. */
export interface SessionGrant {
  readonly session: Session
  readonly refreshToken: Redacted.Redacted<string>
  readonly refreshExpiresAt: Date
}

/** What a sign-out may name the session by; either may be missing, or name nothing. */
export interface SignOutCredentials {
  readonly refreshToken: Option.Option<Redacted.Redacted<string>>
  readonly accessToken: Option.Option<Redacted.Redacted<string>>
}

const invalidCredentials = new InvalidCredentials({ message: "The email or the password is wrong" })

const invalidRefreshToken = new InvalidRefreshToken({
  message: "The session has ended or the refresh token is not valid; sign in again"
})

const isUserId = Schema.is(UserId)
const isUuid = Schema.is(Schema.UUID)

const sessionUser = (user: UserRow) =>
  new SessionUser({ id: user.id, email: user.email, name: user.name, roles: user.roles })

/** What presenting a refresh token came to; a refusal's reason is for the log, never the client. */
type Rotation = Data.TaggedEnum<{
  Granted: { readonly grant: SessionGrant }
  Refused: { readonly reason: string }
}>
const Rotation = Data.taggedEnum<Rotation>()

const refused = (reason: string) => Rotation.Refused({ reason })

export class Sessions extends Effect.Service<Sessions>()("@nestfleet/core/Sessions", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const repo = yield* SessionsRepo
    const users = yield* UsersRepo
    const passwords = yield* Passwords
    const accessTokens = yield* AccessTokens
    const cipher = yield* SecretCipher
    const throttle = yield* LoginThrottle
    const graceMillis = (yield* AuthConfig).refreshReuseGraceSeconds * 1000

    /** The credentials of session `familyId` for `user`: `refreshToken` and a fresh access token. */
    const issue = (user: UserRow, familyId: string, refreshToken: Redacted.Redacted<string>, refreshExpiresAt: Date) =>
      Effect.map(accessTokens.issue({ userId: user.id, sessionId: familyId }), (access): SessionGrant => ({
        session: new Session({ accessToken: access.token, expiresAt: access.expiresAt, user: sessionUser(user) }),
        refreshToken,
        refreshExpiresAt
      }))

    /** Stores a new refresh token for `user`, in `familyId` or a new family. */
    const addToken = (user: UserRow, now: number, familyId?: string) =>
      Effect.gen(function*() {
        const refreshToken = RefreshTokens.generate()
        const row = yield* repo.insert({
          familyId,
          userId: user.id,
          tokenHash: RefreshTokens.hash(refreshToken),
          expiresAt: new Date(now + RefreshTokens.lifetimeSeconds * 1000)
        })
        return { row, refreshToken }
      })

    const login = Effect.fn("Sessions.login")(
      function*(email: string, password: Redacted.Redacted<string>, clientAddress: Option.Option<string>) {
        yield* throttle.admit(email, clientAddress)
        const user = yield* users.findByEmail(email)
        // The same work whether or not the email exists, so timing does not tell.
        const valid = Option.isSome(user)
          ? yield* passwords.verify(password, user.value.passwordHash)
          : yield* passwords.verifyAgainstNothing(password)
        if (!valid || Option.isNone(user) || user.value.disabled) return yield* invalidCredentials
        yield* throttle.recordSuccess(email, clientAddress)
        yield* Effect.annotateCurrentSpan("userId", user.value.id)
        // The password is at hand only now: the moment to move an old hash to today's parameters.
        if (passwords.needsRehash(user.value.passwordHash)) {
          yield* users.setPasswordHash({ id: user.value.id, passwordHash: yield* passwords.hash(password) })
        }
        const { refreshToken, row } = yield* addToken(user.value, yield* Clock.currentTimeMillis)
        return yield* issue(user.value, row.familyId, refreshToken, row.expiresAt)
      },
      orDieUnexpected
    )

    /** Whether the session's (locked) owner may go on; when they are disabled, the session is revoked. */
    const ownerEnabled = (owner: UserRow, row: SessionRow, now: number) =>
      owner.disabled
        ? Effect.as(repo.revokeFamily({ familyId: row.familyId, at: new Date(now) }), false)
        : Effect.succeed(true)

    const revokeAsReused = (row: SessionRow, now: number) =>
      Effect.as(repo.revokeFamily({ familyId: row.familyId, at: new Date(now) }), refused("refresh token reused; session revoked"))

    /**
     * A token already traded, presented again: within the grace window, and while the
     * successor it was traded for is the session's live token, that successor once more;
     * otherwise a reuse, and the session is revoked.
     */
    const reissue = (row: SessionRow, owner: UserRow, rotatedAt: Date, now: number) =>
      Effect.gen(function*() {
        if (row.successorToken === null || now - rotatedAt.getTime() >= graceMillis) {
          return yield* revokeAsReused(row, now)
        }
        const token = yield* Effect.option(cipher.decrypt(row.successorToken))
        // Not the client's doing (the key changed under us): refused, but nothing revoked.
        if (Option.isNone(token)) return refused("the successor's copy cannot be decrypted")
        const successor = yield* repo.findByTokenHashForUpdate(RefreshTokens.hash(token.value))
        if (Option.isNone(successor) || successor.value.rotatedAt !== null || successor.value.revokedAt !== null) {
          return yield* revokeAsReused(row, now)
        }
        if (successor.value.expiresAt.getTime() <= now) return refused("expired session")
        if (!(yield* ownerEnabled(owner, row, now))) return refused("user disabled")
        return Rotation.Granted({ grant: yield* issue(owner, row.familyId, token.value, successor.value.expiresAt) })
      })

    /** In one transaction: find the presented token, retire it and add its successor. */
    const rotate = (token: Redacted.Redacted<string>) =>
      transactions.withTransaction(Effect.gen(function*() {
        const tokenHash = RefreshTokens.hash(token)
        const owner = yield* users.lockOwnerOfToken(tokenHash)
        if (Option.isNone(owner)) return refused("unknown refresh token")
        // Read only now, under the owner's lock: a refresh that waited sees what the one before it left.
        const found = yield* repo.findByTokenHashForUpdate(tokenHash)
        // After the lock: a refresh that waited for another's turn judges by the time it got its own.
        const now = yield* Clock.currentTimeMillis
        if (Option.isNone(found)) return refused("unknown refresh token")
        const row = found.value
        if (row.revokedAt !== null) return refused("revoked session")
        if (row.rotatedAt !== null) return yield* reissue(row, owner.value, row.rotatedAt, now)
        if (row.expiresAt.getTime() <= now) return refused("expired session")
        if (!(yield* ownerEnabled(owner.value, row, now))) return refused("user disabled")
        const successor = yield* addToken(owner.value, now, row.familyId)
        yield* repo.markRotated({
          id: row.id,
          at: new Date(now),
          successorToken: graceMillis > 0 ? yield* cipher.encrypt(successor.refreshToken) : null
        })
        return Rotation.Granted({
          grant: yield* issue(owner.value, row.familyId, successor.refreshToken, successor.row.expiresAt)
        })
      }))

    const refresh = Effect.fn("Sessions.refresh")(function*(token: Option.Option<Redacted.Redacted<string>>) {
      if (Option.isNone(token) || !RefreshTokens.isWellFormed(Redacted.value(token.value))) {
        return yield* invalidRefreshToken
      }
      // Committed before answering: a reuse must stay revoked although the request fails.
      const rotation = yield* rotate(token.value)
      // Outside the transaction, and skipping rows other refreshes hold: tidying never waits.
      yield* repo.dropSuccessorCopies(new Date((yield* Clock.currentTimeMillis) - graceMillis))
      if (rotation._tag === "Refused") {
        yield* Effect.logInfo(`Refresh refused: ${rotation.reason}`)
        return yield* invalidRefreshToken
      }
      return rotation.grant
    }, orDieUnexpected)

    /**
     * Ends the session the refresh token names (any token of it, rotated or not) and the one
     * the access token names, if valid. Credentials that name nothing end nothing: signing
     * out is idempotent, and says nothing about what was presented.
     */
    const logout = Effect.fn("Sessions.logout")(function*(credentials: SignOutCredentials) {
      const at = new Date(yield* Clock.currentTimeMillis)
      const refreshToken = Option.filter(credentials.refreshToken, (token) => RefreshTokens.isWellFormed(Redacted.value(token)))
      if (Option.isSome(refreshToken)) {
        const tokenHash = RefreshTokens.hash(refreshToken.value)
        yield* transactions.withTransaction(
          Effect.zipRight(users.lockOwnerOfToken(tokenHash), repo.revokeFamilyOfToken({ tokenHash, at }))
        )
      }
      const accessToken = Option.filter(credentials.accessToken, (token) => Redacted.value(token) !== "")
      const claims = Option.isSome(accessToken)
        ? yield* Effect.option(accessTokens.verify(Redacted.value(accessToken.value)))
        : Option.none()
      if (Option.isSome(claims) && isUserId(claims.value.userId) && isUuid(claims.value.sessionId)) {
        yield* transactions.withTransaction(Effect.zipRight(
          users.lockById(claims.value.userId),
          repo.revokeFamily({ familyId: claims.value.sessionId, at })
        ))
      }
    }, orDieUnexpected)

    const unauthorized = (message: string) => new Unauthorized({ message })

    /** The user behind an access token, as the database has them now, if their roles reach `required`. */
    const authenticate = Effect.fn("Sessions.authenticate")(
      function*(token: Redacted.Redacted<string>, required: Role) {
        const raw = Redacted.value(token)
        if (raw === "") return yield* unauthorized("Sign in first: send Authorization: Bearer <access token>")
        const claims = yield* accessTokens.verify(raw).pipe(
          Effect.tapError((error) => Effect.logDebug(`Access token refused: ${error.reason}`)),
          Effect.mapError(() => unauthorized("The access token is invalid or expired"))
        )
        if (!isUserId(claims.userId) || !isUuid(claims.sessionId)) return yield* unauthorized("The access token is invalid or expired")
        const at = new Date(yield* Clock.currentTimeMillis)
        const user = yield* users.findSignedIn({ id: claims.userId, sessionId: claims.sessionId, at })
        if (Option.isNone(user)) return yield* unauthorized("The session has ended or the user is disabled; sign in again")
        if (!hasRole(user.value.roles, required)) {
          return yield* new Forbidden({ message: `This needs the ${required} role` })
        }
        return {
          id: user.value.id,
          email: user.value.email,
          name: user.value.name,
          roles: user.value.roles,
          sessionId: claims.sessionId
        } satisfies SignedInUser
      },
      orDieUnexpected
    )

    return { login, refresh, logout, authenticate } as const
  }),
  dependencies: [Transactions.Default, UsersRepo.Default, SessionsRepo.Default, LoginThrottle.Default, Passwords.Default]
}) {}
