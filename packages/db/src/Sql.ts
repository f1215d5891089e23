/**
 * The app's `SqlClient` (@effect/sql-pg) over the shared pool. Columns are snake_case in
 * SQL and camelCase in TypeScript. JSON documents are kept as stored: their keys are already
 * camelCase, and what customers send in `metadata` is theirs, not ours to rename.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, String } from "effect"
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
 * committed with what it wrote. Inside a transaction already, they run in it as they are:
 * a transaction's isolation is set by its first statement, so it is that caller's to choose.
 */
export const withSnapshot = (sql: SqlClient.SqlClient) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (open) =>
    Option.isSome(open)
      ? effect
      : sql.withTransaction(Effect.zipRight(sql`set transaction isolation level repeatable read, read only`, effect)))
