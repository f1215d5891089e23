/**
 * Transactions, as business services use them: a service method wraps its repository calls
 * in one, and knows nothing else of SQL. A service over `Transactions.Passthrough` and
 * repository doubles runs without a database (see `@nestfleet/domain/testing/TestLayer`).
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer, Option } from "effect"

export interface TransactionsShape {
  /** Runs `effect` in a transaction: committed when it succeeds, rolled back otherwise. Nests as savepoints. */
  readonly withTransaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  /**
   * Runs `effect`'s statements in one read-only transaction that sees a single snapshot: a
   * read made of several statements never mixes what was there before another transaction
   * committed with what it wrote. Inside a transaction already, they run in it as they are:
   * a transaction's isolation is set by its first statement, so it is that caller's to choose.
   */
  readonly withSnapshot: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
}

export class Transactions extends Effect.Service<Transactions>()("@nestfleet/db/Transactions", {
  effect: Effect.map(SqlClient.SqlClient, (sql): TransactionsShape => ({
    withTransaction: sql.withTransaction,
    withSnapshot: (effect) =>
      Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (open) =>
        Option.isSome(open)
          ? effect
          : sql.withTransaction(Effect.zipRight(sql`set transaction isolation level repeatable read, read only`, effect)))
  }))
}) {
  /** For unit tests over repository doubles: no database, so nothing to commit; effects run as they are. */
  static readonly Passthrough: Layer.Layer<Transactions> = Layer.succeed(
    Transactions,
    Transactions.make({ withTransaction: (effect) => effect, withSnapshot: (effect) => effect })
  )
}
