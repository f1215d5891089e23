import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Database } from "../src/Database.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"
import { Transactions } from "../src/Transactions.js"

layer(Transactions.Default.pipe(Layer.provideMerge(TestDatabase.layerEmpty)), { excludeTestServices: true })("Transactions.withSnapshot", (it) => {
  it.effect.skipIf(TestDatabase.mode === "embedded")(
    "every statement sees the database as it was at the first, whatever commits meanwhile (needs TEST_DATABASE_URL: the embedded database has one connection, held by the snapshot)",
    () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const transactions = yield* Transactions
        const { pool } = yield* Database
        yield* sql`create table snapshot_probe (n int)`
        yield* sql`insert into snapshot_probe values (1)`
        const count = Effect.map(sql<{ n: number }>`select count(*)::int as n from snapshot_probe`, (rows) => rows[0]!.n)
        const [before, after] = yield* transactions.withSnapshot(Effect.gen(function*() {
          const before = yield* count
          // Another connection commits a row while the snapshot is open.
          yield* Effect.promise(() => pool.query("insert into snapshot_probe values (2)"))
          return [before, yield* count] as const
        }))
        expect([before, after]).toEqual([1, 1])
        expect(yield* count).toBe(2)
        const written = yield* Effect.flip(transactions.withSnapshot(sql`insert into snapshot_probe values (3)`))
        expect(String(written.cause)).toContain("read-only transaction")
      })
  )

  it.effect("inside a transaction, runs in it as it is", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const transactions = yield* Transactions
      yield* sql`create table nested_probe (n int)`
      const seen = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into nested_probe values (1)`
        return yield* transactions.withSnapshot(sql<{ n: number }>`select count(*)::int as n from nested_probe`)
      }))
      expect(seen).toEqual([{ n: 1 }])
    }))
})
