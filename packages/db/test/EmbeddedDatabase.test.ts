import { SqlClient } from "@effect/sql"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { promisify } from "node:util"
import * as Database from "../src/Database.js"
import { DataDirLocked } from "../src/DatabaseError.js"
import * as Migrator from "../src/Migrator.js"
import * as Sql from "../src/Sql.js"

const run = promisify(execFile)
const fixture = Path.join(import.meta.dirname, "fixtures/open-embedded.ts")

/** Opens the data dir from a separate Node process and reports what happened. */
const openFromAnotherProcess = (dataDir: string) =>
  Effect.promise(() =>
    run(process.execPath, ["--import", "tsx", fixture, dataDir]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout })
    )
  )

const tempDataDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-data-"))

const embedded = (dataDir: string) =>
  Layer.effectDiscard(Migrator.migrateDirectory).pipe(
    Layer.provideMerge(Sql.layer),
    Layer.provideMerge(Database.layerEmbedded({ dataDir }))
  )

describe("embedded database", () => {
  it.live("runs pgvector similarity search with an HNSW index, and keeps data across restarts", () => {
    const dataDir = tempDataDir()
    return Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`create table items (id int primary key, embedding vector(3) not null)`
        yield* sql`create index on items using hnsw (embedding vector_cosine_ops)`
        yield* sql`insert into items values (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')`
      }).pipe(Effect.provide(embedded(dataDir)))

      const nearest = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ readonly id: number; readonly distance: number }>`
          select id, embedding <=> '[1,0,0]' as distance from items order by embedding <=> '[1,0,0]' limit 2`
      }).pipe(Effect.provide(embedded(dataDir)))
      expect(nearest.map((row) => row.id)).toEqual([1, 3])
      expect(nearest[0]!.distance).toBeCloseTo(0, 6)
    })
  }, 60_000)

  it.live("refuses a second process on the same data dir with a clear error, and lets it in afterwards", () => {
    const dataDir = tempDataDir()
    return Effect.gen(function*() {
      const whileOpen = yield* Effect.scoped(
        Effect.zipRight(Layer.build(Database.layerEmbedded({ dataDir })), openFromAnotherProcess(dataDir))
      )
      expect(whileOpen.code).toBe(2)
      expect(whileOpen.stdout).toContain(`already open in process ${process.pid}`)
      expect(whileOpen.stdout).toContain("NESTFLEET_DATA_DIR")

      const afterwards = yield* openFromAnotherProcess(dataDir)
      expect(afterwards).toEqual({ code: 0, stdout: "opened\n" })
    })
  }, 60_000)

  it.live("refuses a second open in the same process too", () => {
    const dataDir = tempDataDir()
    return Effect.gen(function*() {
      yield* Layer.build(Database.layerEmbedded({ dataDir }))
      const error = yield* Effect.flip(Layer.build(Database.layerEmbedded({ dataDir })))
      assert.instanceOf(error, DataDirLocked)
      expect(error.pid).toBe(process.pid)
    }).pipe(Effect.scoped)
  }, 60_000)

  it.live("takes over a lock left by a process that died", () => {
    const dataDir = tempDataDir()
    // pid 2^22 + 1 is above Linux's default pid_max, so no live process has it.
    Fs.writeFileSync(Path.join(dataDir, "nestfleet.lock"), JSON.stringify({ pid: 4_194_305 }))
    return Effect.gen(function*() {
      const opened = yield* openFromAnotherProcess(dataDir)
      expect(opened).toEqual({ code: 0, stdout: "opened\n" })
      expect(Fs.existsSync(Path.join(dataDir, "nestfleet.lock"))).toBe(false)
    })
  }, 60_000)

  it.live("takes over a lock with its own pid, left by an earlier process (pid 1 in a restarted container)", () => {
    const dataDir = tempDataDir()
    Fs.writeFileSync(Path.join(dataDir, "nestfleet.lock"), JSON.stringify({ pid: process.pid, token: "earlier" }))
    return Effect.gen(function*() {
      yield* Layer.build(Database.layerEmbedded({ dataDir }))
      const lock = JSON.parse(Fs.readFileSync(Path.join(dataDir, "nestfleet.lock"), "utf8"))
      expect(lock.pid).toBe(process.pid)
      expect(lock.token).not.toBe("earlier")
    }).pipe(Effect.scoped)
  }, 60_000)
})
