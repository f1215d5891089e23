/**
 * Refresh-token sessions. A family is one sign-in; each refresh retires the presented row
 * (`rotated_at`) and adds its successor. Only a token's SHA-256 is stored.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { UserId } from "@nestfleet/domain/Users"
import { Effect, Schema } from "effect"

export class SessionRow extends Schema.Class<SessionRow>("SessionRow")({
  id: Schema.String,
  familyId: Schema.String,
  userId: UserId,
  createdAt: Schema.DateFromSelf,
  expiresAt: Schema.DateFromSelf,
  rotatedAt: Schema.NullOr(Schema.DateFromSelf),
  revokedAt: Schema.NullOr(Schema.DateFromSelf)
}) {}

const TokenHash = Schema.Uint8ArrayFromSelf

export class SessionsRepo extends Effect.Service<SessionsRepo>()("@nestfleet/db/SessionsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insert = SqlSchema.single({
      Request: Schema.Struct({
        familyId: Schema.optional(Schema.String),
        userId: UserId,
        tokenHash: TokenHash,
        expiresAt: Schema.DateFromSelf
      }),
      Result: SessionRow,
      execute: ({ expiresAt, familyId, tokenHash, userId }) =>
        sql`
          insert into sessions (family_id, user_id, token_hash, expires_at)
          values (coalesce(${familyId ?? null}::uuid, gen_random_uuid()), ${userId}, ${tokenHash}, ${expiresAt})
          returning id, family_id, user_id, created_at, expires_at, rotated_at, revoked_at`
    })

    /** The row of a presented token, locked so that two refreshes with it take turns. */
    const findByTokenHashForUpdate = SqlSchema.findOne({
      Request: TokenHash,
      Result: SessionRow,
      execute: (tokenHash) =>
        sql`
          select id, family_id, user_id, created_at, expires_at, rotated_at, revoked_at
          from sessions where token_hash = ${tokenHash} for update`
    })

    const markRotated = SqlSchema.void({
      Request: Schema.String,
      execute: (id) => sql`update sessions set rotated_at = now() where id = ${id}::uuid`
    })

    const revokeFamily = SqlSchema.void({
      Request: Schema.String,
      execute: (familyId) =>
        sql`update sessions set revoked_at = now() where family_id = ${familyId}::uuid and revoked_at is null`
    })

    /** Signs a user out everywhere, or everywhere but one session. */
    const revokeAllOfUser = SqlSchema.void({
      Request: Schema.Struct({ userId: UserId, exceptFamilyId: Schema.optional(Schema.String) }),
      execute: ({ exceptFamilyId, userId }) =>
        sql`
          update sessions set revoked_at = now()
          where user_id = ${userId} and revoked_at is null
            and family_id is distinct from ${exceptFamilyId ?? null}::uuid`
    })

    return { insert, findByTokenHashForUpdate, markRotated, revokeFamily, revokeAllOfUser } as const
  })
}) {}
