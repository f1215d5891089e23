/**
 * The app's `SqlClient` (@effect/sql-pg) over the shared pool. Columns are snake_case in
 * SQL and camelCase in TypeScript. JSON documents are kept as stored: their keys are already
 * camelCase, and what customers send in `metadata` is theirs, not ours to rename.
 */
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, String } from "effect"
import { Database } from "./Database.js"

export const layer = Layer.unwrapEffect(
  Effect.map(Database, ({ pool }) =>
    PgClient.layerFromPool({
      // The pool belongs to the Database layer, which ends it.
      acquire: Effect.succeed(pool),
      applicationName: "nestfleet",
      transformQueryNames: String.camelToSnake,
      transformResultNames: String.snakeToCamel,
      transformJson: false
    }))
)

/**
 * Runs `effect`'s statements in one read-only transaction that sees a single snapshot: a
 * read made of several statements never mixes what was there before another transaction
 * committed with what it wrote. Not for use inside another transaction (a snapshot is
 * chosen by a transaction's first statement).
 */
export const withSnapshot = (sql: SqlClient.SqlClient) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  sql.withTransaction(Effect.zipRight(sql`set transaction isolation level repeatable read, read only`, effect))
