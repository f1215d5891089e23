/** Users, as stored. Emails are matched whatever their case (the unique index is on lower(email)). */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Role, UserId } from "@nestfleet/domain/Users"
import { EmailTaken } from "@nestfleet/domain/UsersApi"
import { Effect, Schema } from "effect"
import { textArray } from "./PgArrays.js"
import { onUniqueViolation } from "./SqlErrors.js"

export class UserRow extends Schema.Class<UserRow>("UserRow")({
  id: UserId,
  email: Schema.String,
  name: Schema.String,
  passwordHash: Schema.String,
  roles: Schema.NonEmptyArray(Role),
  disabled: Schema.Boolean,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf
}) {}

export const NewUserRow = Schema.Struct({
  email: Schema.String,
  name: Schema.String,
  passwordHash: Schema.String,
  roles: Schema.NonEmptyArray(Role)
})
export type NewUserRow = typeof NewUserRow.Type

export const UserRowChanges = Schema.Struct({
  id: UserId,
  name: Schema.optional(Schema.String),
  roles: Schema.optional(Schema.NonEmptyArray(Role)),
  disabled: Schema.optional(Schema.Boolean)
})

const emailTaken = (email: string) => new EmailTaken({ message: `A user with the email ${email} already exists` })

export class UsersRepo extends Effect.Service<UsersRepo>()("@nestfleet/db/UsersRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const list = SqlSchema.findAll({
      Request: Schema.Void,
      Result: UserRow,
      execute: () => sql`select * from users order by created_at, id`
    })

    const findById = SqlSchema.findOne({
      Request: UserId,
      Result: UserRow,
      execute: (id) => sql`select * from users where id = ${id}`
    })

    const findByEmail = SqlSchema.findOne({
      Request: Schema.String,
      Result: UserRow,
      execute: (email) => sql`select * from users where lower(email) = lower(${email})`
    })

    /**
     * The form an email is matched in: `lower()`, as the database does it — its locale decides
     * which letters have a lower case, so no other code can be trusted to agree. Two spellings
     * name one account exactly when they have one key.
     */
    const emailKey = SqlSchema.single({
      Request: Schema.String,
      Result: Schema.Struct({ key: Schema.String }),
      execute: (email) => sql`select lower(${email}) as key`
    })

    /**
     * The owner of the session the refresh token with this hash belongs to, locked until the
     * transaction ends: changes to a user's sessions take turns on it (see SessionsRepo). Not
     * `for update`: it would also queue sign-ins, whose new sessions refer to the row.
     */
    const lockOwnerOfToken = SqlSchema.findOne({
      Request: Schema.Uint8ArrayFromSelf,
      Result: UserRow,
      execute: (tokenHash) =>
        sql`
          select * from users
          where id = (select user_id from sessions where token_hash = ${tokenHash})
          for no key update`
    })

    /** The user, locked as `lockOwnerOfToken` locks them. */
    const lockById = SqlSchema.findOne({
      Request: UserId,
      Result: UserRow,
      execute: (id) => sql`select * from users where id = ${id} for no key update`
    })

    /** The user of a request: enabled, and with the session the access token names still live at `at`. */
    const findSignedIn = SqlSchema.findOne({
      Request: Schema.Struct({ id: UserId, sessionId: Schema.String, at: Schema.DateFromSelf }),
      Result: UserRow,
      execute: ({ at, id, sessionId }) =>
        sql`
          select u.* from users u
          where u.id = ${id} and not u.disabled and exists (
            select 1 from sessions s
            where s.family_id = ${sessionId}::uuid and s.user_id = u.id
              and s.revoked_at is null and s.rotated_at is null and s.expires_at > ${at}
          )`
    })

    const insertRow = SqlSchema.single({
      Request: NewUserRow,
      Result: UserRow,
      execute: (user) =>
        sql`
          insert into users (email, name, password_hash, roles)
          values (${user.email}, ${user.name}, ${user.passwordHash}, ${textArray(user.roles)}::text[])
          returning *`
    })

    const insert = (user: NewUserRow) =>
      insertRow(user).pipe(onUniqueViolation("users_email_unique", () => Effect.fail(emailTaken(user.email))))

    const insertFirstRow = SqlSchema.findOne({
      Request: NewUserRow,
      Result: UserRow,
      execute: (user) =>
        sql`
          insert into users (email, name, password_hash, roles)
          select ${user.email}, ${user.name}, ${user.passwordHash}, ${textArray(user.roles)}::text[]
          where not exists (select 1 from users)
          returning *`
    })

    /**
     * Inserts `user` only while there are no users at all; none when there were, or when a
     * concurrent first insert won the race.
     */
    const insertFirst = (user: NewUserRow) =>
      insertFirstRow(user).pipe(onUniqueViolation("users_email_unique", () => Effect.succeedNone))

    const update = SqlSchema.findOne({
      Request: UserRowChanges,
      Result: UserRow,
      execute: ({ disabled, id, name, roles }) =>
        sql`
          update users set
            name = coalesce(${name ?? null}::text, name),
            roles = coalesce(${roles === undefined ? null : textArray(roles)}::text[], roles),
            disabled = coalesce(${disabled ?? null}::boolean, disabled),
            updated_at = now()
          where id = ${id}
          returning *`
    })

    const setPasswordHash = SqlSchema.findOne({
      Request: Schema.Struct({ id: UserId, passwordHash: Schema.String }),
      Result: Schema.Struct({ id: UserId }),
      execute: ({ id, passwordHash }) =>
        sql`update users set password_hash = ${passwordHash}, updated_at = now() where id = ${id} returning id`
    })

    /**
     * The ids of the enabled admins, locked until the transaction ends, so two changes that
     * each leave one admin cannot both pass the last-admin check.
     */
    const lockEnabledAdmins = SqlSchema.findAll({
      Request: Schema.Void,
      Result: Schema.Struct({ id: UserId }),
      execute: () =>
        sql`select id from users where 'admin' = any(roles) and not disabled order by id for update`
    })

    return {
      list: () => list(undefined),
      findById,
      findByEmail,
      emailKey: (email: string) => Effect.map(emailKey(email), (row) => row.key),
      lockOwnerOfToken,
      lockById,
      findSignedIn,
      insert,
      insertFirst,
      update,
      setPasswordHash,
      lockEnabledAdmins: () => lockEnabledAdmins(undefined)
    } as const
  })
}) {}
