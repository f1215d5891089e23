/**
 * Managing users: admins add them, change their roles, disable them and reset their
 * passwords; everyone changes their own. There is always at least one enabled admin.
 * Whatever takes a user's access away — disabling, a new password — signs them out.
 *
 * To run it over test doubles, as `packages/core/test/Users.test.ts` does for the last-admin
 * rule: `Users.DefaultWithoutDependencies` over `makeTestLayer(UsersRepo)({ … })`,
 * `makeTestLayer(SessionsRepo)({ … })` (from `@nestfleet/domain/testing/TestLayer`; an
 * unstubbed method dies, naming itself), `Transactions.Passthrough` and `Passwords.Default`.
 */
import { Transactions } from "@nestfleet/db/Transactions"
import { SessionsRepo } from "@nestfleet/db/SessionsRepo"
import { type UserRow, UsersRepo } from "@nestfleet/db/UsersRepo"
import type { SignedInUser } from "@nestfleet/domain/Access"
import { CurrentPasswordIncorrect } from "@nestfleet/domain/AuthApi"
import { Role, User, type UserId } from "@nestfleet/domain/Users"
import { LastAdmin, type NewUser, type UserChanges, UserList, UserNotFound } from "@nestfleet/domain/UsersApi"
import { Array, Clock, Effect, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { AuthConfig } from "./AuthConfig.js"
import { Passwords } from "./Passwords.js"
import { orDieUnexpected } from "./Unexpected.js"

const toUser = (row: UserRow) =>
  new User({
    id: row.id,
    email: row.email,
    name: row.name,
    roles: row.roles,
    disabled: row.disabled,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt
  })

/** Each role once, highest first. */
const normalizeRoles = (roles: Array.NonEmptyReadonlyArray<Role>): Array.NonEmptyReadonlyArray<Role> => {
  const ordered = Role.literals.filter((role) => roles.includes(role))
  return Array.isNonEmptyReadonlyArray(ordered) ? ordered : roles
}

const userNotFound = (id: UserId) => new UserNotFound({ message: `No user has the id ${id}`, id })

/** The row `lookup` finds, or UserNotFound for `id`. */
const orNotFound = <A, E, R>(id: UserId, lookup: Effect.Effect<Option.Option<A>, E, R>) =>
  Effect.flatMap(lookup, Option.match({ onNone: () => Effect.fail(userNotFound(id)), onSome: Effect.succeed }))

const keepsAdmin = (row: UserRow, changes: UserChanges) =>
  !(changes.disabled ?? row.disabled) && (changes.roles ?? row.roles).includes("admin")

export class Users extends Effect.Service<Users>()("@nestfleet/core/Users", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const repo = yield* UsersRepo
    const sessions = yield* SessionsRepo
    const passwords = yield* Passwords

    const list = Effect.fn("Users.list")(function*() {
      return new UserList({ items: (yield* repo.list()).map(toUser) })
    }, orDieUnexpected)

    const create = Effect.fn("Users.create")(function*(input: NewUser) {
      const row = yield* repo.insert({
        email: input.email,
        name: input.name,
        passwordHash: yield* passwords.hash(input.password),
        roles: normalizeRoles(input.roles)
      })
      yield* Effect.logInfo("User created").pipe(Effect.annotateLogs({ userId: row.id, roles: row.roles.join(",") }))
      return toUser(row)
    }, orDieUnexpected)

    const update = Effect.fn("Users.update")(function*(id: UserId, changes: UserChanges) {
      const normalized = { ...changes, roles: changes.roles && normalizeRoles(changes.roles) }
      const row = yield* transactions.withTransaction(Effect.gen(function*() {
        const current = yield* orNotFound(id, repo.findById(id))
        if (!keepsAdmin(current, normalized)) {
          const admins = yield* repo.lockEnabledAdmins()
          if (admins.length === 1 && admins[0]!.id === id) {
            return yield* new LastAdmin({ message: "This is the last enabled admin; make another user admin first" })
          }
        }
        // The update holds the user's row, which every change to their sessions takes first
        // (SessionsRepo): a refresh in flight has finished, and what it handed out is revoked too.
        const updated = yield* orNotFound(id, repo.update({ id, ...normalized }))
        if (updated.disabled) yield* sessions.revokeAllOfUser({ userId: id, at: new Date(yield* Clock.currentTimeMillis) })
        return updated
      }))
      yield* Effect.logInfo("User updated").pipe(Effect.annotateLogs({ userId: id, disabled: row.disabled }))
      return toUser(row)
    }, orDieUnexpected)

    const setPassword = (id: UserId, password: Redacted.Redacted<string>, keepSessionId?: string) =>
      Effect.gen(function*() {
        const passwordHash = yield* passwords.hash(password)
        yield* transactions.withTransaction(Effect.gen(function*() {
          // Holds the user's row, as in `update`: no refresh slips a token past the revocation.
          const updated = yield* repo.setPasswordHash({ id, passwordHash })
          if (Option.isNone(updated)) return yield* userNotFound(id)
          const at = new Date(yield* Clock.currentTimeMillis)
          yield* sessions.revokeAllOfUser({ userId: id, exceptFamilyId: keepSessionId, at })
        }))
      })

    const resetPassword = Effect.fn("Users.resetPassword")(function*(id: UserId, password: Redacted.Redacted<string>) {
      yield* setPassword(id, password)
      yield* Effect.logInfo("Password reset by an admin").pipe(Effect.annotateLogs({ userId: id }))
    }, orDieUnexpected)

    /** The signed-in user's own change: the current password first; their other sessions end. */
    const changeOwnPassword = Effect.fn("Users.changeOwnPassword")(
      function*(user: SignedInUser, current: Redacted.Redacted<string>, next: Redacted.Redacted<string>) {
        const row = yield* orNotFound(user.id, repo.findById(user.id))
        if (!(yield* passwords.verify(current, row.passwordHash))) {
          return yield* new CurrentPasswordIncorrect({ message: "The current password is wrong" })
        }
        yield* setPassword(user.id, next, user.sessionId)
      },
      Effect.catchTag("UserNotFound", Effect.die),
      orDieUnexpected
    )

    /**
     * On a database without users, the first admin: from ADMIN_EMAIL and ADMIN_PASSWORD, or
     * with a generated password printed once here — the only time it is ever shown.
     */
    const ensureFirstAdmin = Effect.gen(function*() {
      const config = yield* AuthConfig
      if ((yield* repo.list()).length > 0) return
      const generated = Option.isNone(config.adminPassword)
      const password = Option.getOrElse(config.adminPassword, () => Redacted.make(randomBytes(18).toString("base64url")))
      const created = yield* repo.insertFirst({
        email: config.adminEmail,
        name: "Admin",
        passwordHash: yield* passwords.hash(password),
        roles: ["admin"]
      })
      // Another process may have created the first user meanwhile; then it said so itself.
      if (Option.isNone(created)) return
      yield* generated
        ? Effect.logWarning(
          `Created the first admin, ${config.adminEmail}, with the generated password ${Redacted.value(password)} ` +
            "— sign in and change it now; it is not shown again"
        )
        : Effect.logInfo(`Created the first admin, ${config.adminEmail}, with the password from ADMIN_PASSWORD`)
    }).pipe(Effect.withSpan("Users.ensureFirstAdmin"), orDieUnexpected)

    return { list, create, update, resetPassword, changeOwnPassword, ensureFirstAdmin } as const
  }),
  dependencies: [Transactions.Default, UsersRepo.Default, SessionsRepo.Default, Passwords.Default]
}) {}
