/**
 * Sign-in sessions: sign in with a password, trade the refresh token for new credentials
 * (rotating it), sign out, and authenticate each request's access token.
 *
 * A refresh token is good once. Presenting one that was already traded means someone else
 * has a copy, so the whole session — every token descended from that sign-in — is revoked.
 */
import { Transactions } from "@nestfleet/db/Transactions"
import { SessionsRepo } from "@nestfleet/db/SessionsRepo"
import { type UserRow, UsersRepo } from "@nestfleet/db/UsersRepo"
import type { SignedInUser } from "@nestfleet/domain/Access"
import { InvalidCredentials, InvalidRefreshToken, Session, SessionUser } from "@nestfleet/domain/AuthApi"
import { Forbidden, Unauthorized } from "@nestfleet/domain/Errors"
import { hasRole, type Role, UserId } from "@nestfleet/domain/Users"
import { Effect, Option, Redacted, Schema } from "effect"
import { AccessTokens } from "./AccessTokens.js"
import { LoginThrottle } from "./LoginThrottle.js"
import { Passwords } from "./Passwords.js"
import * as RefreshTokens from "./RefreshTokens.js"
import { orDieUnexpected } from "./Unexpected.js"

/** What a sign-in or refresh hands out: the session for the body, the refresh token for the cookie. */
export interface SessionGrant {
  readonly session: Session
  readonly refreshToken: Redacted.Redacted<string>
  readonly refreshExpiresAt: Date
}

const invalidCredentials = new InvalidCredentials({ message: "The email or the password is wrong" })

const invalidRefreshToken = new InvalidRefreshToken({
  message: "The session has ended or the refresh token is not valid; sign in again"
})

const isUserId = Schema.is(UserId)
const isUuid = Schema.is(Schema.UUID)

export const sessionUser = (user: UserRow) =>
  new SessionUser({ id: user.id, email: user.email, name: user.name, roles: user.roles })

export class Sessions extends Effect.Service<Sessions>()("@nestfleet/core/Sessions", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const users = yield* UsersRepo
    const sessions = yield* SessionsRepo
    const passwords = yield* Passwords
    const accessTokens = yield* AccessTokens
    const throttle = yield* LoginThrottle

    /** Stores a refresh token for `user` (in `familyId`, or a new family) and issues the pair. */
    const grant = Effect.fn("Sessions.grant")(function*(user: UserRow, familyId?: string) {
      const refreshToken = RefreshTokens.generate()
      const refreshExpiresAt = new Date(Date.now() + RefreshTokens.lifetimeSeconds * 1000)
      const row = yield* sessions.insert({
        familyId,
        userId: user.id,
        tokenHash: RefreshTokens.hash(refreshToken),
        expiresAt: refreshExpiresAt
      })
      const access = yield* accessTokens.issue({ userId: user.id, sessionId: row.familyId })
      const session = new Session({ accessToken: access.token, expiresAt: access.expiresAt, user: sessionUser(user) })
      return { session, refreshToken, refreshExpiresAt } satisfies SessionGrant
    })

    const login = Effect.fn("Sessions.login")(
      function*(email: string, password: Redacted.Redacted<string>, clientAddress: Option.Option<string>) {
        yield* throttle.check(email, clientAddress)
        const user = yield* users.findByEmail(email)
        // The same work whether or not the email exists, so timing does not tell.
        const valid = Option.isSome(user)
          ? yield* passwords.verify(password, user.value.passwordHash)
          : yield* passwords.verifyAgainstNothing(password)
        if (!valid || Option.isNone(user) || user.value.disabled) {
          yield* throttle.recordFailure(email, clientAddress)
          return yield* invalidCredentials
        }
        yield* throttle.recordSuccess(email)
        yield* Effect.annotateCurrentSpan("userId", user.value.id)
        // The password is at hand only now: the moment to move an old hash to today's parameters.
        if (passwords.needsRehash(user.value.passwordHash)) {
          yield* users.setPasswordHash({ id: user.value.id, passwordHash: yield* passwords.hash(password) })
        }
        return yield* grant(user.value)
      },
      orDieUnexpected
    )

    type Rotation =
      | { readonly _tag: "Granted"; readonly grant: SessionGrant }
      | { readonly _tag: "Refused"; readonly reason: string }

    /** In one transaction: find the presented token, retire it and add its successor. */
    const rotate = (token: Redacted.Redacted<string>) =>
      transactions.withTransaction(Effect.gen(function*() {
        const found = yield* sessions.findByTokenHashForUpdate(RefreshTokens.hash(token))
        if (Option.isNone(found)) return { _tag: "Refused", reason: "unknown refresh token" } as Rotation
        const row = found.value
        if (row.revokedAt !== null) return { _tag: "Refused", reason: "revoked session" } as Rotation
        if (row.rotatedAt !== null) {
          yield* sessions.revokeFamily(row.familyId)
          return { _tag: "Refused", reason: "refresh token reused; session revoked" } as Rotation
        }
        if (row.expiresAt.getTime() <= Date.now()) return { _tag: "Refused", reason: "expired session" } as Rotation
        const user = yield* users.findById(row.userId)
        if (Option.isNone(user) || user.value.disabled) {
          yield* sessions.revokeFamily(row.familyId)
          return { _tag: "Refused", reason: "user disabled or gone" } as Rotation
        }
        yield* sessions.markRotated(row.id)
        return { _tag: "Granted", grant: yield* grant(user.value, row.familyId) } as Rotation
      }))

    const refresh = Effect.fn("Sessions.refresh")(function*(token: Option.Option<Redacted.Redacted<string>>) {
      if (Option.isNone(token) || !RefreshTokens.isWellFormed(Redacted.value(token.value))) {
        return yield* invalidRefreshToken
      }
      // Committed before answering: a reuse must stay revoked although the request fails.
      const rotation = yield* rotate(token.value)
      if (rotation._tag === "Refused") {
        yield* Effect.logInfo(`Refresh refused: ${rotation.reason}`)
        return yield* invalidRefreshToken
      }
      return rotation.grant
    }, orDieUnexpected)

    const logout = Effect.fn("Sessions.logout")(function*(user: SignedInUser) {
      yield* sessions.revokeFamily(user.sessionId)
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
        const user = yield* users.findSignedIn({ id: claims.userId, sessionId: claims.sessionId })
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
