/**
 * Refresh-token sessions. A family is one sign-in; each refresh retires the presented row
 * (`rotated_at`) and adds its successor. Only a token's SHA-256 is stored; the successor's
 * token itself only encrypted (`successor_token`, written by core's SecretCipher), on the
 * row it replaced, for the refresh grace window.
 *
 * Times that decide something — when a row was rotated or revoked, whether it has expired —
 * are given by the caller, whose clock the rules run on, not taken from the database's.
 *
 * Whoever changes a user's sessions first locks the user's row (`UsersRepo.lockOwnerOfToken`,
 * `lockById`, or by updating the user) and holds it to the end of its transaction, so they
 * take turns. Locking a family's rows in one order would not be enough: a refresh inside the
 * grace window holds its token and then locks the successor, and one that finds a reuse or a
 * disabled owner, already holding rows, revokes the whole family, earlier rows included —
 * each could wait for the other (PostgreSQL aborts one: a deadlock). Taking turns also lets a
 * revocation that waited for a refresh see the token it added; otherwise that token, new
 * since the revocation's statement began, would live on. Only `dropSuccessorCopies` goes
 * without: it skips rows others hold, so never waits.
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
  revokedAt: Schema.NullOr(Schema.DateFromSelf),
  /** The encrypted token of the successor, while the grace window may still need it. */
  successorToken: Schema.NullOr(Schema.String)
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
          returning id, family_id, user_id, created_at, expires_at, rotated_at, revoked_at, successor_token`
    })

    /** The row of a presented token, locked (under its owner's lock, taken first). */
    const findByTokenHashForUpdate = SqlSchema.findOne({
      Request: TokenHash,
      Result: SessionRow,
      execute: (tokenHash) =>
        sql`
          select id, family_id, user_id, created_at, expires_at, rotated_at, revoked_at, successor_token
          from sessions where token_hash = ${tokenHash} for update`
    })

    /**
     * Retires row `id` at `at`, keeping `successorToken` on it for the grace window. Only this
     * row: an earlier row's copy names the successor retired now, which makes presenting it a
     * reuse (the successor is no longer live), and the sweep drops it when its window passes.
     */
    const markRotated = SqlSchema.void({
      Request: Schema.Struct({ id: Schema.String, at: Schema.DateFromSelf, successorToken: Schema.NullOr(Schema.String) }),
      execute: ({ at, id, successorToken }) =>
        sql`update sessions set rotated_at = ${at}, successor_token = ${successorToken} where id = ${id}::uuid`
    })

    /**
     * Drops the successor copy of every row rotated at or before `before`: its grace window has
     * passed. Rows a refresh holds are skipped, not waited for; a later sweep takes them.
     */
    const dropSuccessorCopies = SqlSchema.void({
      Request: Schema.DateFromSelf,
      execute: (before) =>
        sql`
          update sessions set successor_token = null
          where id in (
            select id from sessions
            where successor_token is not null and rotated_at <= ${before}
            for update skip locked
          )`
    })

    /** Revokes a family: every row of it, with any successor copy dropped. Hold its owner's row first. */
    const revokeFamily = SqlSchema.void({
      Request: Schema.Struct({ familyId: Schema.String, at: Schema.DateFromSelf }),
      execute: ({ at, familyId }) =>
        sql`
          update sessions set revoked_at = coalesce(revoked_at, ${at}), successor_token = null
          where family_id = ${familyId}::uuid and (revoked_at is null or successor_token is not null)`
    })

    /** Revokes the family of whichever of its tokens this is, rotated or not (sign-out by cookie), likewise. */
    const revokeFamilyOfToken = SqlSchema.void({
      Request: Schema.Struct({ tokenHash: TokenHash, at: Schema.DateFromSelf }),
      execute: ({ at, tokenHash }) =>
        sql`
          update sessions set revoked_at = coalesce(revoked_at, ${at}), successor_token = null
          where family_id = (select family_id from sessions where token_hash = ${tokenHash})
            and (revoked_at is null or successor_token is not null)`
    })

    /** Signs a user out everywhere, or everywhere but one session; likewise, with their row held first. */
    const revokeAllOfUser = SqlSchema.void({
      Request: Schema.Struct({ userId: UserId, exceptFamilyId: Schema.optional(Schema.String), at: Schema.DateFromSelf }),
      execute: ({ at, exceptFamilyId, userId }) =>
        sql`
          update sessions set revoked_at = ${at}, successor_token = null
          where user_id = ${userId} and revoked_at is null
            and family_id is distinct from ${exceptFamilyId ?? null}::uuid`
    })

    return {
      insert,
      findByTokenHashForUpdate,
      markRotated,
      dropSuccessorCopies,
      revokeFamily,
      revokeFamilyOfToken,
      revokeAllOfUser
    } as const
  })
}) {}
