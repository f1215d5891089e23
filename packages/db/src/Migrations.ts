/**
 * Reads `migrations/NNN_name.sql`: plain SQL files, applied in number order. (We load
 * them ourselves: `PgMigrator.fromFileSystem` only picks up JS/TS migrations.)
 */
import { FileSystem, Path } from "@effect/platform"
import { Array, Effect, Order } from "effect"
import { createHash } from "node:crypto"
import { InvalidMigrationFile } from "./MigrationError.js"

export interface Migration {
  readonly id: number
  /** File name without `.sql`, e.g. `001_initial_schema`; the key in `_migrations`. */
  readonly name: string
  readonly sql: string
  readonly checksum: string
}

const fileName = /^(\d{3,})_([a-z0-9_]+)\.sql$/

export const checksum = (sql: string): string => createHash("sha256").update(sql).digest("hex")

export const fromSql = (file: string, sql: string) => {
  const match = fileName.exec(file)
  if (match === null) {
    return Effect.fail(new InvalidMigrationFile({ file, reason: "name must look like 001_snake_case_name.sql" }))
  }
  return Effect.succeed<Migration>({ id: Number(match[1]), name: file.slice(0, -4), sql, checksum: checksum(sql) })
}

const byId = Order.mapInput(Order.number, (migration: Migration) => migration.id)

/** Every `.sql` file in `directory`, in order; duplicate numbers are refused. */
export const loadDirectory = Effect.fn("Migrations.loadDirectory")(function*(directory: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const files = yield* fs.readDirectory(directory).pipe(
    Effect.mapError((cause) => new InvalidMigrationFile({ file: directory, reason: `cannot read: ${cause.message}` }))
  )
  const migrations = yield* Effect.forEach(
    files.filter((file) => file.endsWith(".sql")),
    (file) =>
      fs.readFileString(path.join(directory, file)).pipe(
        Effect.mapError((cause) => new InvalidMigrationFile({ file, reason: `cannot read: ${cause.message}` })),
        Effect.flatMap((sql) => fromSql(file, sql))
      )
  )
  const sorted = Array.sort(migrations, byId)
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.id === sorted[i - 1]!.id) {
      return yield* new InvalidMigrationFile({
        file: `${sorted[i]!.name}.sql`,
        reason: `number ${sorted[i]!.id} is also used by ${sorted[i - 1]!.name}.sql`
      })
    }
  }
  return sorted
})
