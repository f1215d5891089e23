/**
 * Failed sign-ins counted per email and per client address over a window; a key that
 * reaches its limit is blocked for a while. Kept in the database so every API process
 * shares the counts.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Option, Schema } from "effect"

export const ThrottleScope = Schema.Literal("email", "address")
export type ThrottleScope = typeof ThrottleScope.Type

const ThrottleKey = Schema.Struct({ scope: ThrottleScope, key: Schema.String })

const BlockedUntil = Schema.Struct({ blockedUntil: Schema.DateFromSelf })

export class LoginFailuresRepo extends Effect.Service<LoginFailuresRepo>()("@nestfleet/db/LoginFailuresRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const findBlock = SqlSchema.findOne({
      Request: ThrottleKey,
      Result: BlockedUntil,
      execute: ({ key, scope }) =>
        sql`
          select blocked_until from login_failures
          where scope = ${scope} and key = ${key} and blocked_until > now()`
    })

    /**
     * Counts a failure in the key's window (a window older than `windowSeconds` starts over);
     * the `limit`-th failure blocks the key for `blockSeconds`. Answers the end of the block,
     * if the key is now blocked.
     */
    const recordFailure = SqlSchema.findOne({
      Request: Schema.Struct({
        scope: ThrottleScope,
        key: Schema.String,
        windowSeconds: Schema.Int,
        limit: Schema.Int,
        blockSeconds: Schema.Int
      }),
      Result: BlockedUntil,
      execute: ({ blockSeconds, key, limit, scope, windowSeconds }) =>
        sql`
          with upserted as (
            insert into login_failures as f (scope, key, failures, window_started_at, blocked_until)
            values (
              ${scope}, ${key}, 1, now(),
              case when ${limit} <= 1 then now() + make_interval(secs => ${blockSeconds}) end
            )
            on conflict (scope, key) do update set
              failures = excluded.failures + case
                when f.window_started_at < now() - make_interval(secs => ${windowSeconds}) then 0
                else f.failures end,
              window_started_at = case
                when f.window_started_at < now() - make_interval(secs => ${windowSeconds}) then now()
                else f.window_started_at end,
              blocked_until = case
                when f.window_started_at >= now() - make_interval(secs => ${windowSeconds})
                  and f.failures + 1 >= ${limit}
                then now() + make_interval(secs => ${blockSeconds})
                else f.blocked_until end
            returning blocked_until
          )
          select blocked_until from upserted where blocked_until > now()`
    })

    const clear = SqlSchema.void({
      Request: ThrottleKey,
      execute: ({ key, scope }) => sql`delete from login_failures where scope = ${scope} and key = ${key}`
    })

    return {
      blockedUntil: (scope: ThrottleScope, key: string) =>
        Effect.map(findBlock({ scope, key }), Option.map((row) => row.blockedUntil)),
      recordFailure: (
        scope: ThrottleScope,
        key: string,
        policy: { readonly windowSeconds: number; readonly limit: number; readonly blockSeconds: number }
      ) => Effect.map(recordFailure({ scope, key, ...policy }), Option.map((row) => row.blockedUntil)),
      clear: (scope: ThrottleScope, key: string) => clear({ scope, key })
    } as const
  })
}) {}
