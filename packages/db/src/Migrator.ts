/**
 * Applies pending migrations: each in its own transaction, recorded in `_migrations`
 * (name, checksum, applied_at). Every transaction first takes one advisory lock, so when
 * several processes start at once they apply each migration exactly once, one after the
 * other. A changed file that was already applied stops the start.
 */
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Config, Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { MigrationChecksumMismatch, MigrationFailed, MigrationsPending } from "./MigrationError.js"
import { type Migration, loadDirectory } from "./Migrations.js"

/** An arbitrary constant that names "NestFleet schema migrations" among advisory locks. */
const advisoryLockKey = 7_402_118_553

export const MigrationsDirectory = Config.string("NESTFLEET_MIGRATIONS_DIR").pipe(
  Config.withDefault(fileURLToPath(new URL("../../../migrations", import.meta.url)))
)

const appliedChecksums = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [table] = yield* sql<{ readonly exists: boolean }>`select to_regclass('_migrations') is not null as exists`
  if (!table?.exists) return new Map<string, string>()
  const rows = yield* sql<{ readonly name: string; readonly checksum: string }>`select name, checksum from _migrations`
  return new Map(rows.map((row) => [row.name, row.checksum]))
})

const verifyChecksums = (migrations: ReadonlyArray<Migration>, applied: ReadonlyMap<string, string>) =>
  Effect.forEach(migrations, (migration) => {
    const recorded = applied.get(migration.name)
    return recorded === undefined || recorded === migration.checksum
      ? Effect.void
      : Effect.fail(new MigrationChecksumMismatch({ name: migration.name, applied: recorded, current: migration.checksum }))
  }, { discard: true })

/** Runs `effect` in a transaction that holds the migration lock. */
const locked = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(Effect.zipRight(sql`select pg_advisory_xact_lock(${advisoryLockKey})`, effect)))

const ensureTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  locked(sql`
    create table if not exists _migrations (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )
  `))

/** Applies one migration unless another process got there first; true when this call applied it. */
const applyOne = (migration: Migration) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* locked(Effect.gen(function*() {
      const applied = yield* appliedChecksums
      yield* verifyChecksums([migration], applied)
      if (applied.has(migration.name)) return false
      yield* sql.unsafe(migration.sql).pipe(
        Effect.mapError((cause) => new MigrationFailed({ name: migration.name, cause }))
      )
      yield* sql`insert into _migrations (name, checksum) values (${migration.name}, ${migration.checksum})`
      return true
    }))
  }).pipe(Effect.withSpan("Migrator.applyOne", { attributes: { migration: migration.name } }))

/** Applies what is pending, in order; answers the names this call applied. */
export const run = Effect.fn("Migrator.run")(function*(migrations: ReadonlyArray<Migration>) {
  yield* ensureTable
  const applied = yield* appliedChecksums
  yield* verifyChecksums(migrations, applied)
  const known = new Set(migrations.map((migration) => migration.name))
  const unknown = [...applied.keys()].filter((name) => !known.has(name))
  if (unknown.length > 0) {
    // A rollback of the code, not of the schema: fine while the migrations stayed compatible.
    yield* Effect.logWarning(`The database has migrations this build does not know: ${unknown.join(", ")}`)
  }
  const appliedNow: Array<string> = []
  for (const migration of migrations) {
    if (applied.has(migration.name)) continue
    const started = Date.now()
    if (yield* applyOne(migration)) {
      appliedNow.push(migration.name)
      yield* Effect.logInfo(`Applied migration ${migration.name}`).pipe(
        Effect.annotateLogs({ migration: migration.name, durationMs: Date.now() - started })
      )
    }
  }
  return appliedNow
})

/** The names of migrations not applied yet; fails when an applied one was edited. */
export const pending = Effect.fn("Migrator.pending")(function*(migrations: ReadonlyArray<Migration>) {
  const applied = yield* appliedChecksums
  yield* verifyChecksums(migrations, applied)
  return migrations.filter((migration) => !applied.has(migration.name)).map((migration) => migration.name)
})

/** Applies the migrations in `NESTFLEET_MIGRATIONS_DIR` (the repository's `migrations/`). */
export const migrateDirectory = Effect.gen(function*() {
  const directory = yield* MigrationsDirectory
  const migrations = yield* loadDirectory(directory).pipe(Effect.provide(NodeContext.layer))
  const applied = yield* run(migrations)
  if (applied.length === 0) yield* Effect.logInfo("Database schema is up to date")
  return applied
})

/** Fails with `MigrationsPending` until someone (the API) has applied every migration. */
export const requireUpToDate = Effect.gen(function*() {
  const directory = yield* MigrationsDirectory
  const migrations = yield* loadDirectory(directory).pipe(Effect.provide(NodeContext.layer))
  const names = yield* pending(migrations)
  if (names.length > 0) return yield* new MigrationsPending({ names })
})

/** Migrates at layer build time, before anything that needs the schema starts. */
export const layer = Layer.effectDiscard(migrateDirectory)
