/**
 * Sign-in attempts counted per throttle key over a window, with the end of a block when a
 * key has one. Kept in the database so every API process shares the counts. The rules —
 * what counts, when a key is blocked, how long a sign-in waits — are `LoginThrottle`'s; this
 * module reads and writes counters, locked so that parallel sign-ins take turns.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
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
     */
    const lock = (keys: ReadonlyArray<ThrottleKey>, at: Date) =>
      Effect.zipRight(insertMissing({ keys, at }), selectForUpdate(keys))

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

    return { lock, save } as const
  })
}) {}
