import { SqlClient } from "@effect/sql"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option } from "effect"
import * as Database from "../src/Database.js"
import { MigrationChecksumMismatch, MigrationFailed, InvalidMigrationFile } from "../src/MigrationError.js"
import * as Migrations from "../src/Migrations.js"
import * as Migrator from "../src/Migrator.js"
import * as Sql from "../src/Sql.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"
import { NodeContext } from "@effect/platform-node"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const migration = (file: string, sql: string) => Migrations.fromSql(file, sql)

const tableExists = (name: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly exists: boolean }>`select to_regclass(${name}) is not null as exists`.pipe(
      Effect.map(([row]) => row?.exists === true)
    ))

const appliedNames = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ readonly name: string }>`select name from _migrations order by name`.pipe(
    Effect.map((rows) => rows.map((row) => row.name))
  ))

describe("Migrator", () => {
  it.live("applies migrations in number order, once", () =>
    Effect.gen(function*() {
      const migrations = yield* Effect.all([
        migration("010_third.sql", "insert into steps (n) values (3);"),
        migration("002_second.sql", "insert into steps (n) values (2);"),
        migration("001_first.sql", "create table steps (id serial primary key, n int not null); insert into steps (n) values (1);")
      ])
      const sorted = [...migrations].sort((a, b) => a.id - b.id)
      expect(yield* Migrator.run(sorted)).toEqual(["001_first", "002_second", "010_third"])
      expect(yield* Migrator.run(sorted)).toEqual([])
      const sql = yield* SqlClient.SqlClient
      const steps = yield* sql<{ readonly n: number }>`select n from steps order by id`
      expect(steps.map((row) => row.n)).toEqual([1, 2, 3])
      expect(yield* appliedNames).toEqual(["001_first", "002_second", "010_third"])
      expect(yield* Migrator.pending(sorted)).toEqual([])
    }).pipe(Effect.provide(TestDatabase.layerEmpty)))

  it.live("loads a directory in number order and refuses bad names and duplicate numbers", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-migrations-"))
      Fs.writeFileSync(Path.join(dir, "002_b.sql"), "select 2;")
      Fs.writeFileSync(Path.join(dir, "001_a.sql"), "select 1;")
      Fs.writeFileSync(Path.join(dir, "README.md"), "not a migration")
      const loaded = yield* Migrations.loadDirectory(dir)
      expect(loaded.map((m) => m.name)).toEqual(["001_a", "002_b"])

      Fs.writeFileSync(Path.join(dir, "002_c.sql"), "select 3;")
      const duplicate = yield* Effect.flip(Migrations.loadDirectory(dir))
      assert.instanceOf(duplicate, InvalidMigrationFile)
      expect(duplicate.message).toContain("number 2 is also used by")

      Fs.rmSync(Path.join(dir, "002_c.sql"))
      Fs.writeFileSync(Path.join(dir, "3-Bad Name.sql"), "select 3;")
      const badName = yield* Effect.flip(Migrations.loadDirectory(dir))
      assert.instanceOf(badName, InvalidMigrationFile)
      expect(badName.message).toContain("3-Bad Name.sql")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("a failing migration rolls back entirely and is not recorded", () =>
    Effect.gen(function*() {
      const good = yield* migration("001_good.sql", "create table kept (id int);")
      const bad = yield* migration(
        "002_bad.sql",
        "create table half_done (id int); insert into half_done values (1); insert into no_such_table values (1);"
      )
      const error = yield* Effect.flip(Migrator.run([good, bad]))
      assert.instanceOf(error, MigrationFailed)
      expect(error.message).toContain("002_bad")
      expect(error.message).toContain("no_such_table")
      expect(yield* tableExists("kept")).toBe(true)
      expect(yield* tableExists("half_done")).toBe(false)
      expect(yield* appliedNames).toEqual(["001_good"])

      const fixed = yield* migration("002_bad.sql", "create table half_done (id int);")
      expect(yield* Migrator.run([good, fixed])).toEqual(["002_bad"])
    }).pipe(Effect.provide(TestDatabase.layerEmpty)))

  it.live("refuses to start when an applied migration's file changed", () =>
    Effect.gen(function*() {
      const first = yield* migration("001_first.sql", "create table t (id int);")
      yield* Migrator.run([first])
      const edited = yield* migration("001_first.sql", "create table t (id bigint);")
      const next = yield* migration("002_next.sql", "create table u (id int);")
      const error = yield* Effect.flip(Migrator.run([edited, next]))
      assert.instanceOf(error, MigrationChecksumMismatch)
      expect(error.name).toBe("001_first")
      expect(error.message).toContain("changed after it was applied")
      // Nothing after the mismatch ran.
      expect(yield* tableExists("u")).toBe(false)
      expect(Exit.isFailure(yield* Effect.exit(Migrator.pending([edited, next])))).toBe(true)
    }).pipe(Effect.provide(TestDatabase.layerEmpty)))

  it.live("two processes starting at once apply each migration exactly once", () =>
    Effect.gen(function*() {
      const migrations = yield* Effect.all([
        migration("001_counter.sql", "create table applications (id serial primary key, what text not null);"),
        migration("002_slow.sql", "select pg_sleep(0.2); insert into applications (what) values ('002');"),
        migration("003_again.sql", "insert into applications (what) values ('003');")
      ])
      // Two independent clients, as two API processes would have. On a server they are two
      // pools; the embedded database has one session, so they share it.
      const databaseFor = yield* Option.match(TestDatabase.serverUrl, {
        onNone: () =>
          Effect.map(Layer.build(Database.layerEmbedded({ dataDir: Database.inMemory })), (context) =>
            () => Layer.succeedContext(context)),
        onSome: (adminUrl) =>
          Effect.map(TestDatabase.createServerDatabase(adminUrl), ({ url }) =>
            () => Database.layerServer({ url, poolMax: 2 }))
      })
      const start = Migrator.run(migrations).pipe(Effect.provide(Sql.layer.pipe(Layer.provide(databaseFor()))))
      const [a, b] = yield* Effect.all([start, start], { concurrency: 2 })
      expect([...a, ...b].sort()).toEqual(["001_counter", "002_slow", "003_again"])

      const check = Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ readonly what: string }>`select what from applications order by id`
      }).pipe(Effect.provide(Sql.layer.pipe(Layer.provide(databaseFor()))))
      expect((yield* check).map((row) => row.what)).toEqual(["002", "003"])
    }).pipe(Effect.scoped))

  it.live("the repository's migrations apply and enable pgvector", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [vector] = yield* sql<{ readonly extversion: string }>`
        select extversion from pg_extension where extname = 'vector'`
      expect(vector?.extversion).toMatch(/^\d+\.\d+/)
      expect(yield* appliedNames).toContain("001_initial_schema")
      expect(yield* Migrator.migrateDirectory).toEqual([])
    }).pipe(Effect.provide(TestDatabase.layer)))
})
