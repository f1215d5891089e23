/**
 * The app's `SqlClient` (@effect/sql-pg) over the shared pool. Columns are snake_case in
 * SQL and camelCase in TypeScript. JSON documents are kept as stored: their keys are already
 * camelCase, and what customers send in `metadata` is theirs, not ours to rename.
 */
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

