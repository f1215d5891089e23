/**
 * The database connection every other layer builds on: a `pg.Pool` plus what kind of
 * database stands behind it. The app's `SqlClient` and pg-boss both draw from it.
 *
 * - `Server`: a PostgreSQL server at `DATABASE_URL`.
 * - `Embedded`: PGlite (PostgreSQL compiled to WASM, with pgvector) in this process. It has
 *   a single session, so the pool has a single connection and every query — the app's and
 *   the job queue's — takes turns on it.
 */
import { PGlite } from "@electric-sql/pglite"
import { createPgConfig } from "@electric-sql/pglite/node-postgres"
import { vector } from "@electric-sql/pglite-pgvector"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import pg from "pg"
import * as Path from "node:path"
import { DatabaseConfig } from "./DatabaseConfig.js"
import { DatabaseUnavailable } from "./DatabaseError.js"
import * as DataDirLock from "./DataDirLock.js"
import { PreparingClient } from "./PreparingClient.js"

/** Subscribes to a NOTIFY channel; resolves to an unsubscribe function. */
export type Listen = (channel: string, onNotification: (payload: string) => void) => Promise<() => Promise<void>>

export type DatabaseBackend =
  | { readonly _tag: "Server"; readonly url: Redacted.Redacted }
  | { readonly _tag: "Embedded"; readonly dataDir: string; readonly listen: Listen }

export class Database extends Context.Tag("@nestfleet/db/Database")<Database, {
  readonly pool: pg.Pool
  readonly backend: DatabaseBackend
}>() {}

/** Keeps the pool's background errors (a dropped idle connection) from crashing the process. */
const ignorePoolErrors = (pool: pg.Pool) => pool.on("error", () => {})

const describeServer = (url: Redacted.Redacted) => {
  const parsed = new URL(Redacted.value(url))
  return `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`
}

const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const verify = (pool: pg.Pool, where: string) =>
  Effect.tryPromise({
    try: () => pool.query("select 1"),
    catch: (cause) =>
      new DatabaseUnavailable({
        message: `Cannot reach the database at ${where}: ${reason(cause)}`,
        cause
      })
  }).pipe(
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new DatabaseUnavailable({ message: `Timed out connecting to the database at ${where}` })
    })
  )

/**
 * Settings of every session. pgvector's HNSW search visits a fixed number of candidates
 * (`ef_search`) and filters them afterwards: the index searched holds one product's vectors
 * in one space (migration 008), but some are still filtered out (a draft's passages, the case
 * being matched), and the LIMIT (up to 50 candidates) must still be filled, so the search
 * visits 100 and, with the iterative scan, goes on until it is filled. Set per session, not
 * per statement: a transaction of its own for `SET LOCAL` cost a search three round trips.
 */
export const sessionSettings: Readonly<Record<string, string>> = {
  "hnsw.ef_search": "100",
  "hnsw.iterative_scan": "relaxed_order"
}

const makeServer = (options: { readonly url: Redacted.Redacted; readonly poolMax: number }) =>
  Effect.gen(function*() {
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ignorePoolErrors(
          new pg.Pool({
            connectionString: Redacted.value(options.url),
            max: options.poolMax,
            connectionTimeoutMillis: 10_000,
            idleTimeoutMillis: 30_000,
            application_name: "nestfleet",
            options: Object.entries(sessionSettings).map(([name, value]) => `-c ${name}=${value}`).join(" "),
            // Runs the statements marked for it as prepared statements.
            Client: PreparingClient
          })
        )
      ),
      (pool) => Effect.promise(() => pool.end())
    )
    yield* verify(pool, describeServer(options.url))
    return Database.of({ pool, backend: { _tag: "Server", url: options.url } })
  })

/** The embedded database's files live in `<dataDir>/pgdata`; `memory://` keeps them in memory. */
export const inMemory = "memory://"

const openPglite = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        PGlite.create(dataDir === inMemory ? inMemory : Path.join(dataDir, "pgdata"), { extensions: { vector } }),
      catch: (cause) =>
        new DatabaseUnavailable({
          message: `Cannot open the embedded database in ${dataDir}: ${reason(cause)}`,
          cause
        })
    }),
    (pglite) => Effect.promise(() => pglite.close())
  )

const makeEmbedded = (options: { readonly dataDir: string }) =>
  Effect.gen(function*() {
    if (options.dataDir !== inMemory) {
      yield* DataDirLock.acquire(options.dataDir)
    }
    const pglite = yield* openPglite(options.dataDir)
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ignorePoolErrors(
          new pg.Pool({ ...createPgConfig(pglite), max: 1, idleTimeoutMillis: 0, Client: PreparingClient } as pg.PoolConfig)
        )
      ),
      (pool) => Effect.promise(() => pool.end())
    )
    yield* verify(pool, options.dataDir)
    // The one session of the embedded database.
    yield* Effect.tryPromise({
      try: () => pool.query(Object.keys(sessionSettings).map((name) => `set ${name} = '${sessionSettings[name]}'`).join("; ")),
      catch: (cause) => new DatabaseUnavailable({ message: `Cannot configure the embedded database: ${reason(cause)}`, cause })
    })
    // LISTEN goes through the pool, so it never lands inside someone else's transaction on
    // the one session; PGlite hands every notification of that session to its listeners.
    const listen: Listen = async (channel, onNotification) => {
      await pool.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
      const unsubscribe = pglite.onNotification((from, payload) => {
        if (from === channel) onNotification(payload)
      })
      return async () => {
        unsubscribe()
        await pool.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`)
      }
    }
    return Database.of({ pool, backend: { _tag: "Embedded", dataDir: options.dataDir, listen } })
  })

export const layerServer = (options: { readonly url: Redacted.Redacted; readonly poolMax: number }) =>
  Layer.scoped(Database, makeServer(options))

export const layerEmbedded = (options: { readonly dataDir: string }) => Layer.scoped(Database, makeEmbedded(options))

/** The server at `DATABASE_URL`, or the embedded database when it is unset. */
export const layer = Layer.unwrapEffect(
  Effect.map(DatabaseConfig, (config) =>
    Option.match(config.url, {
      onNone: () => layerEmbedded({ dataDir: config.dataDir }),
      onSome: (url) => layerServer({ url, poolMax: config.poolMax })
    }))
)
