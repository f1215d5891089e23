/**
 * The refresh grace window, as a rule: Sessions over test doubles — sessions kept in memory
 * by a partial `SessionsRepo` double, one user, no throttle — with `it.effect`'s `TestClock`
 * as the clock, so "20 seconds later" is `TestClock.adjust`, not a wait. (The race itself,
 * parallel refreshes taking turns on a locked row, is tested on the real server and database
 * in apps/api/test/Auth.test.ts.)
 */
import { expect, it } from "@effect/vitest"
import { SessionRow, SessionsRepo } from "@nestfleet/db/SessionsRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { UserRow, UsersRepo } from "@nestfleet/db/UsersRepo"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { UserId } from "@nestfleet/domain/Users"
import { ConfigProvider, Effect, Exit, Layer, Option, Redacted, TestClock } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { AccessTokens } from "../src/AccessTokens.js"
import { LoginThrottle } from "../src/LoginThrottle.js"
import { Passwords } from "../src/Passwords.js"
import { SecretCipher } from "../src/SecretCipher.js"
import { Sessions } from "../src/Sessions.js"

const password = "the-right-password"
const user = Effect.map(Passwords, (passwords) => passwords.hash(Redacted.make(password))).pipe(
  Effect.flatten,
  Effect.map((passwordHash) =>
    new UserRow({
      id: UserId.make(randomUUID()),
      email: "ada@example.com",
      name: "Ada",
      passwordHash,
      roles: ["agent"],
      disabled: false,
      createdAt: new Date(0),
      updatedAt: new Date(0)
    })
  ),
  Effect.provide(Passwords.Default)
)

/** Sessions as the real repository keeps them, in memory; the methods a refresh and a sign-out use. */
const inMemorySessions = () => {
  const rows: Array<SessionRow & { readonly tokenHash: Uint8Array }> = []
  const replace = (id: string, changes: Partial<SessionRow>) => {
    const index = rows.findIndex((row) => row.id === id)
    rows[index] = Object.assign(new SessionRow({ ...rows[index]!, ...changes }), { tokenHash: rows[index]!.tokenHash })
  }
  const revoke = (familyId: string, at: Date) => {
    for (const row of rows.filter((row) => row.familyId === familyId)) {
      replace(row.id, { revokedAt: row.revokedAt ?? at, successorToken: null })
    }
  }
  const repo: Partial<SessionsRepo> = {
    insert: (input) =>
      Effect.sync(() => {
        const row = Object.assign(
          new SessionRow({
            id: randomUUID(),
            familyId: input.familyId ?? randomUUID(),
            userId: input.userId,
            createdAt: new Date(0),
            expiresAt: input.expiresAt,
            rotatedAt: null,
            revokedAt: null,
            successorToken: null
          }),
          { tokenHash: input.tokenHash }
        )
        rows.push(row)
        return row
      }),
    findByTokenHashForUpdate: (hash) =>
      Effect.sync(() => Option.fromNullable(rows.find((row) => Buffer.from(row.tokenHash).equals(hash)))),
    markRotated: ({ at, id, successorToken }) => Effect.sync(() => replace(id, { rotatedAt: at, successorToken })),
    dropSuccessorCopies: (before) =>
      Effect.sync(() => {
        for (const row of rows.filter((row) => row.rotatedAt !== null && row.rotatedAt <= before)) {
          replace(row.id, { successorToken: null })
        }
      }),
    revokeFamily: ({ at, familyId }) => Effect.sync(() => revoke(familyId, at)),
    revokeFamilyOfToken: ({ at, tokenHash }) =>
      Effect.sync(() => {
        const row = rows.find((row) => Buffer.from(row.tokenHash).equals(tokenHash))
        if (row !== undefined) revoke(row.familyId, at)
      })
  }
  return { rows, repo }
}

/** Sessions over the doubles: the layers a developer gives it to test it alone. */
const sessionsOver = (repo: Partial<SessionsRepo>, row: UserRow, config: Record<string, string> = {}) =>
  Sessions.DefaultWithoutDependencies.pipe(
    Layer.provide([
      makeTestLayer(SessionsRepo)(repo),
      // One user, who owns every session; locking them is a no-op here, where nothing runs in parallel.
      makeTestLayer(UsersRepo)({
        findByEmail: () => Effect.succeed(Option.some(row)),
        lockOwnerOfToken: () => Effect.succeed(Option.some(row)),
        lockById: () => Effect.succeed(Option.some(row))
      }),
      makeTestLayer(LoginThrottle)({ admit: () => Effect.void, recordSuccess: () => Effect.void }),
      Transactions.Passthrough,
      Passwords.Default,
      Layer.succeed(AccessTokens, AccessTokens.fromSecret(randomBytes(32))),
      Layer.succeed(SecretCipher, SecretCipher.fromKey(randomBytes(32)))
    ]),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(config)))))
  )

/** A signed-in session over fresh doubles, and a refresh that answers its refresh token or the failure's tag. */
const signedIn = (config?: Record<string, string>) =>
  Effect.gen(function*() {
    const row = yield* user
    const store = inMemorySessions()
    const context = yield* Layer.build(sessionsOver(store.repo, row, config))
    const sessions = Effect.provide(Sessions, context)
    const grant = yield* Effect.flatMap(sessions, (s) => s.login(row.email, Redacted.make(password), Option.none()))
    const refresh = (token: Redacted.Redacted<string>) =>
      Effect.flatMap(sessions, (s) => s.refresh(Option.some(token))).pipe(
        Effect.map((granted) => granted.refreshToken),
        Effect.catchTag("InvalidRefreshToken", (error) => Effect.succeed(error._tag))
      )
    const logout = (token: Redacted.Redacted<string>) =>
      Effect.flatMap(sessions, (s) => s.logout({ refreshToken: Option.some(token), accessToken: Option.none() }))
    return { store, first: grant.refreshToken, refresh, logout }
  })

const valueOf = (token: Redacted.Redacted<string> | string) => (typeof token === "string" ? token : Redacted.value(token))

it.scoped("within 20 seconds of its rotation a token answers the successor it was traded for; at 20 seconds, the session is revoked", () =>
  Effect.gen(function*() {
    const { first, refresh, store } = yield* signedIn()
    const successor = yield* refresh(first)
    expect(typeof successor).not.toBe("string")

    yield* TestClock.adjust("19999 millis")
    expect(valueOf(yield* refresh(first))).toBe(valueOf(successor as Redacted.Redacted<string>))
    expect(store.rows.every((row) => row.revokedAt === null)).toBe(true)

    yield* TestClock.adjust("1 millis")
    expect(yield* refresh(first)).toBe("InvalidRefreshToken")
    expect(store.rows.every((row) => row.revokedAt !== null)).toBe(true)
    expect(yield* refresh(successor as Redacted.Redacted<string>)).toBe("InvalidRefreshToken")
  }))

it.scoped("the successor's copy is dropped once the window has passed, and never kept in the clear", () =>
  Effect.gen(function*() {
    const { first, refresh, store } = yield* signedIn()
    const successor = (yield* refresh(first)) as Redacted.Redacted<string>
    const copy = store.rows.find((row) => row.successorToken !== null)!.successorToken!
    expect(copy).toMatch(/^nfs1\./)
    expect(copy).not.toContain(Redacted.value(successor))

    yield* TestClock.adjust("19 seconds")
    expect(yield* refresh(Redacted.make("x".repeat(43)))).toBe("InvalidRefreshToken")
    expect(store.rows.filter((row) => row.successorToken !== null)).toHaveLength(1)
    // Any refresh tidies up once the window has passed, even one that names nothing.
    yield* TestClock.adjust("1 second")
    expect(yield* refresh(Redacted.make("x".repeat(43)))).toBe("InvalidRefreshToken")
    expect(store.rows.filter((row) => row.successorToken !== null)).toHaveLength(0)
    expect(typeof (yield* refresh(successor))).not.toBe("string")
  }))

it.scoped("once the successor has been refreshed in turn, its predecessor is a reuse even within the window", () =>
  Effect.gen(function*() {
    const { first, refresh, store } = yield* signedIn()
    const successor = (yield* refresh(first)) as Redacted.Redacted<string>
    expect(typeof (yield* refresh(successor))).not.toBe("string")
    // The first token's copy is still there (a rotation writes its own row only), and answers nothing.
    expect(store.rows.filter((row) => row.successorToken !== null)).toHaveLength(2)
    yield* TestClock.adjust("1 second")
    expect(yield* refresh(first)).toBe("InvalidRefreshToken")
    expect(store.rows.every((row) => row.revokedAt !== null)).toBe(true)
  }))

it.scoped("a signed-out session refuses its rotated token inside the window", () =>
  Effect.gen(function*() {
    const { first, logout, refresh } = yield* signedIn()
    const successor = (yield* refresh(first)) as Redacted.Redacted<string>
    yield* logout(successor)
    expect(yield* refresh(first)).toBe("InvalidRefreshToken")
    expect(yield* refresh(successor)).toBe("InvalidRefreshToken")
  }))

it.scoped("an expired session refuses its rotated token inside the window, and revokes nothing", () =>
  Effect.gen(function*() {
    const { first, refresh, store } = yield* signedIn()
    yield* refresh(first)
    // The successor at the end of its life: expiring a second from now.
    const live = store.rows.find((row) => row.rotatedAt === null)!
    Object.assign(live, { expiresAt: new Date(Date.UTC(1970, 0, 1, 0, 0, 1)) })
    yield* TestClock.adjust("1 second")
    expect(yield* refresh(first)).toBe("InvalidRefreshToken")
    expect(store.rows.every((row) => row.revokedAt === null)).toBe(true)
  }))

it.scoped("with REFRESH_REUSE_GRACE_SECONDS=0 there is no window: a second refresh revokes at once, and no copy is kept", () =>
  Effect.gen(function*() {
    const { first, refresh, store } = yield* signedIn({ REFRESH_REUSE_GRACE_SECONDS: "0" })
    expect(typeof (yield* refresh(first))).not.toBe("string")
    expect(store.rows.every((row) => row.successorToken === null)).toBe(true)
    expect(yield* refresh(first)).toBe("InvalidRefreshToken")
    expect(store.rows.every((row) => row.revokedAt !== null)).toBe(true)
  }))

it.effect("a repository method the test did not stub dies naming itself", () =>
  Effect.gen(function*() {
    const row = yield* user
    const exit = yield* Effect.flatMap(Sessions, (s) => s.refresh(Option.some(Redacted.make("x".repeat(43))))).pipe(
      Effect.provide(sessionsOver({}, row)),
      Effect.exit
    )
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("SessionsRepo.findByTokenHashForUpdate is not stubbed")
  }))
