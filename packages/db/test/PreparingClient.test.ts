/**
 * Marked statements run as prepared statements on the connection, unmarked ones do not, a
 * connection keeps a bounded number of them, and a migration that changes a prepared
 * statement's result columns costs one failure, not every later run. On both databases.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import type pg from "pg"
import { Database } from "../src/Database.js"
import * as PreparingClient from "../src/PreparingClient.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"

const marked = (text: string) => `${PreparingClient.marker} ${text}`

/** One connection of the app's pool for the test's body. */
const withConnection = <A>(f: (client: pg.PoolClient) => Promise<A>) =>
  Effect.flatMap(Database, ({ pool }) =>
    Effect.promise(async () => {
      const client = await pool.connect()
      try {
        return await f(client)
      } finally {
        client.release()
      }
    }))

const preparedOn = async (client: pg.PoolClient) =>
  (await client.query<{ statement: string }>("select statement from pg_prepared_statements order by prepare_time"))
    .rows.map((row) => row.statement)

layer(TestDatabase.layer, { excludeTestServices: true })("PreparingClient", (it) => {
  it.effect("prepares a marked statement once per connection and leaves unmarked ones alone", () =>
    withConnection(async (client) => {
      const lookup = marked("select $1::int + 1 as next")
      expect((await client.query(lookup, [1])).rows).toEqual([{ next: 2 }])
      expect((await client.query(lookup, [41])).rows).toEqual([{ next: 42 }])
      await client.query("select $1::int as plain", [7])
      const prepared = await preparedOn(client)
      expect(prepared.filter((statement) => statement === lookup)).toHaveLength(1)
      expect(prepared.some((statement) => statement.includes("as plain"))).toBe(false)
    }).pipe(Effect.map(() => undefined)))

  it.effect("after a migration changes a prepared statement's columns, fails that run only", () =>
    withConnection(async (client) => {
      await client.query("create table prepared_probe (id int primary key)")
      await client.query("insert into prepared_probe values (1)")
      const everything = marked("select * from prepared_probe where id = $1")
      expect((await client.query(everything, [1])).rows).toEqual([{ id: 1 }])
      await client.query("alter table prepared_probe add column label text default 'new'")
      const stale = await client.query(everything, [1]).then(() => undefined, (error: { code?: string }) => error)
      expect(stale?.code).toBe("0A000")
      expect((await client.query(everything, [1])).rows).toEqual([{ id: 1, label: "new" }])
      await client.query("drop table prepared_probe")
    }))

  // Last: it fills the connection's quota.
  it.effect("keeps at most maxPreparedPerConnection statements on a connection; the rest run unprepared", () =>
    withConnection(async (client) => {
      const already = (await preparedOn(client)).length
      const texts = Array.from(
        { length: PreparingClient.maxPreparedPerConnection + 5 },
        (_, i) => marked(`select $1::int + ${i} as n`)
      )
      for (const [i, text] of texts.entries()) {
        expect((await client.query(text, [1])).rows).toEqual([{ n: 1 + i }])
      }
      expect((await preparedOn(client)).length).toBe(PreparingClient.maxPreparedPerConnection)
      expect(already).toBeLessThanOrEqual(PreparingClient.maxPreparedPerConnection)
    }))
})
