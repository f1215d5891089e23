/**
 * The last-admin rule, as a rule: Users over partial repository doubles. A change that would
 * leave no enabled admin is refused before anything is written — the doubles have no
 * `update`, so a write would die here, naming itself. (On the real server and database, with
 * the lock that keeps two such changes from both passing, see apps/api/test/Users.test.ts.)
 */
import { expect, it } from "@effect/vitest"
import { SessionsRepo } from "@nestfleet/db/SessionsRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { UserRow, UsersRepo } from "@nestfleet/db/UsersRepo"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { type Role, UserId } from "@nestfleet/domain/Users"
import { UserChanges } from "@nestfleet/domain/UsersApi"
import { Effect, Layer, Option, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import { Passwords } from "../src/Passwords.js"
import { Users } from "../src/Users.js"

const userRow = (roles: ReadonlyArray<Role>, disabled = false) =>
  new UserRow({
    id: UserId.make(randomUUID()),
    email: `${randomUUID()}@example.com`,
    name: "Someone",
    passwordHash: "scrypt$unused",
    roles: roles as [Role, ...Array<Role>],
    disabled,
    createdAt: new Date(0),
    updatedAt: new Date(0)
  })

/** Users over doubles: `rows` are the users there are; `repo` and `sessions` add or replace members. */
const usersOver = (
  rows: ReadonlyArray<UserRow>,
  repo: Partial<UsersRepo> = {},
  sessions: Partial<SessionsRepo> = {}
) =>
  Users.DefaultWithoutDependencies.pipe(
    Layer.provide([
      makeTestLayer(UsersRepo)({
        findById: (id) => Effect.succeed(Option.fromNullable(rows.find((row) => row.id === id))),
        lockEnabledAdmins: () =>
          Effect.succeed(rows.filter((row) => row.roles.includes("admin") && !row.disabled).map(({ id }) => ({ id }))),
        ...repo
      }),
      makeTestLayer(SessionsRepo)(sessions),
      Transactions.Passthrough,
      Passwords.Default
    ])
  )

const update = (id: UserId, changes: ConstructorParameters<typeof UserChanges>[0]) =>
  Effect.flatMap(Users, (users) => users.update(id, new UserChanges(changes)))

const admin = userRow(["admin"])

/** Users with one enabled admin, and nothing else stubbed. */
const UsersTest = Users.DefaultWithoutDependencies.pipe(
  Layer.provide([
    makeTestLayer(UsersRepo)({
      findById: () => Effect.succeed(Option.some(admin)),
      lockEnabledAdmins: () => Effect.succeed([{ id: admin.id }])
    }),
    makeTestLayer(SessionsRepo)({}),
    Transactions.Passthrough,
    Passwords.Default
  ])
)

it.effect("the last enabled admin can be neither disabled nor demoted; nothing is written", () =>
  Effect.gen(function*() {
    const users = yield* Users
    for (const changes of [{ disabled: true }, { roles: ["agent"] as const }]) {
      const error = yield* Effect.flip(users.update(admin.id, new UserChanges(changes)))
      expect(error._tag).toBe("LastAdmin")
    }
  }).pipe(Effect.provide(UsersTest)))

it.effect("with another enabled admin, an admin is disabled, and signed out everywhere at the clock's time", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(Date.UTC(2030, 0, 2))
    const admin = userRow(["admin"])
    const other = userRow(["admin"])
    const revoked: Array<{ readonly userId: string; readonly at: Date }> = []
    const updated = yield* update(admin.id, { disabled: true }).pipe(
      Effect.provide(usersOver(
        [admin, other],
        { update: (changes) => Effect.succeed(Option.some(new UserRow({ ...admin, disabled: changes.disabled ?? false }))) },
        { revokeAllOfUser: ({ at, userId }) => Effect.sync(() => void revoked.push({ userId, at })) }
      ))
    )
    expect(updated.disabled).toBe(true)
    expect(revoked).toEqual([{ userId: admin.id, at: new Date(Date.UTC(2030, 0, 2)) }])
  }))

it.effect("a change that keeps the last admin an enabled admin (a rename) is not refused", () =>
  Effect.gen(function*() {
    const admin = userRow(["admin"])
    const renamed = yield* update(admin.id, { name: "Root" }).pipe(
      Effect.provide(usersOver([admin], {
        update: (changes) => Effect.succeed(Option.some(new UserRow({ ...admin, name: changes.name ?? admin.name })))
      }))
    )
    expect(renamed.name).toBe("Root")
  }))
