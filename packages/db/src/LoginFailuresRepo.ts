/**
 * Sign-in attempts counted per throttle key over a window, with the end of a block when a
 * key has one. Kept in the database so every API process shares the counts. The rules —
 * what counts, when a key is blocked, how long a sign-in waits — are `LoginThrottle`'s; this
 * module reads and writes counters, locked so that parallel sign-ins take turns, and prunes
 * those with nothing left to say.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, type ParseResult, Schema } from "effect"
import { textArray } from "./PgArrays.js"

/** `email_address`: one email from one client address; `address`: one address; `email`: one email from anywhere. */
export const ThrottleScope = Schema.Literal("email_address", "address", "email")
export type ThrottleScope = typeof ThrottleScope.Type

export const ThrottleKey = Schema.Struct({ scope: ThrottleScope, key: Schema.String })
export type ThrottleKey = typeof ThrottleKey.Type

export const ThrottleCounter = Schema.Struct({
  scope: ThrottleScope,
  key: Schema.String,
  failures: Schema.Int,
  windowStartedAt: Schema.DateFromSelf,
  blockedUntil: Schema.NullOr(Schema.DateFromSelf)
})
export type ThrottleCounter = typeof ThrottleCounter.Type

const scopes = (keys: ReadonlyArray<ThrottleKey>) => textArray(keys.map((k) => k.scope))
const names = (keys: ReadonlyArray<ThrottleKey>) => textArray(keys.map((k) => k.key))

export class LoginFailuresRepo extends Effect.Service<LoginFailuresRepo>()("@nestfleet/db/LoginFailuresRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertMissing = SqlSchema.void({
      Request: Schema.Struct({ keys: Schema.Array(ThrottleKey), at: Schema.DateFromSelf }),
      execute: ({ at, keys }) =>
        sql`
          insert into login_failures (scope, key, failures, window_started_at)
          select scope, key, 0, ${at}
          from unnest(${scopes(keys)}::text[], ${names(keys)}::text[])
            as given (scope, key)
          order by scope, key
          on conflict (scope, key) do nothing`
    })

    const selectForUpdate = SqlSchema.findAll({
      Request: Schema.Array(ThrottleKey),
      Result: ThrottleCounter,
      execute: (keys) =>
        sql`
          select f.scope, f.key, f.failures, f.window_started_at, f.blocked_until
          from login_failures f
          join unnest(${scopes(keys)}::text[], ${names(keys)}::text[])
            as given (scope, key) on f.scope = given.scope and f.key = given.key
          order by f.scope, f.key
          for update of f`
    })

    /**
     * The counters of `keys`, a new one (no failures, a window from `at`) for a key without
     * any, each locked until the transaction ends. Always in one order, so that sign-ins
     * sharing keys (the same address, the same email) queue rather than deadlock.
     *
     * A counter found but deleted while this waited for its lock (a success forgot it, or it
     * was pruned) is made again: otherwise this attempt would go uncounted there.
     */
    const lock = (
      keys: ReadonlyArray<ThrottleKey>,
      at: Date
    ): Effect.Effect<ReadonlyArray<ThrottleCounter>, SqlError | ParseResult.ParseError> =>
      Effect.flatMap(Effect.zipRight(insertMissing({ keys, at }), selectForUpdate(keys)), (counters) => {
        const missing = keys.filter((key) => !counters.some((found) => found.scope === key.scope && found.key === key.key))
        return missing.length === 0
          ? Effect.succeed(counters)
          : Effect.map(lock(missing, at), (made) => [...counters, ...made])
      })

    const update = SqlSchema.void({
      Request: ThrottleCounter,
      execute: (counter) =>
        sql`
          update login_failures set
            failures = ${counter.failures},
            window_started_at = ${counter.windowStartedAt},
            blocked_until = ${counter.blockedUntil}
          where scope = ${counter.scope} and key = ${counter.key}`
    })

    const remove = SqlSchema.void({
      Request: ThrottleKey,
      execute: ({ key, scope }) => sql`delete from login_failures where scope = ${scope} and key = ${key}`
    })

    /** Writes `counters` back; one with nothing left to remember (no failures, no block) is deleted. */
    const save = (counters: ReadonlyArray<ThrottleCounter>, at: Date) =>
      Effect.forEach(counters, (counter) =>
        counter.failures === 0 && (counter.blockedUntil === null || counter.blockedUntil <= at)
          ? remove(counter)
          : update(counter), { discard: true })

    /**
     * Deletes up to `batch` counters of each kind that no longer count, skipping any another
     * sign-in holds: blocks that have ended (a counter that was blocked starts over), and
     * unblocked counters whose window started at or before `windowStartedBefore`. Either is
     * the same as no counter at all. Each kind comes from its own partial index, oldest first,
     * so a prune reads only rows it deletes.
     */
    const prune = SqlSchema.void({
      Request: Schema.Struct({ at: Schema.DateFromSelf, windowStartedBefore: Schema.DateFromSelf, batch: Schema.Int }),
      execute: ({ at, batch, windowStartedBefore }) =>
        sql`
          with block_ended as (
            select scope, key from login_failures
            where blocked_until <= ${at}
            order by blocked_until limit ${batch}
            for update skip locked
          ), window_passed as (
            select scope, key from login_failures
            where blocked_until is null and window_started_at <= ${windowStartedBefore}
            order by window_started_at limit ${batch}
            for update skip locked
          )
          delete from login_failures f
          using (select * from block_ended union all select * from window_passed) as done
          where f.scope = done.scope and f.key = done.key`
    })

    return { lock, save, prune } as const
  })
}) {}
