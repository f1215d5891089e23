/**
 * A database of its own for one test file: a fresh database on the server at
 * `TEST_DATABASE_URL` (created, then dropped), or else an in-memory embedded database.
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Redacted } from "effect"
import pg from "pg"
import { randomBytes } from "node:crypto"
import * as Database from "../Database.js"
import { type DataDirLocked, DatabaseUnavailable } from "../DatabaseError.js"
import * as Migrator from "../Migrator.js"
import * as Sql from "../Sql.js"
import * as TcpProxy from "./TcpProxy.js"

/** The admin URL of the test server, if the suite runs against one. */
export const serverUrl: Option.Option<Redacted.Redacted> = Option.fromNullable(process.env.TEST_DATABASE_URL).pipe(
  Option.filter((url) => url.length > 0),
  Option.map(Redacted.make)
)

export const mode: "server" | "embedded" = Option.isSome(serverUrl) ? "server" : "embedded"

const withAdmin = <A>(adminUrl: Redacted.Redacted, f: (client: pg.Client) => Promise<A>) =>
  Effect.tryPromise({
    try: async () => {
      const client = new pg.Client({ connectionString: Redacted.value(adminUrl) })
      await client.connect()
      try {
        return await f(client)
      } finally {
        await client.end()
      }
    },
    catch: (cause) => new DatabaseUnavailable({ message: `Test database server: ${String(cause)}`, cause })
  })

/** Creates an empty database on the test server; dropped when the scope closes. */
export const createServerDatabase = (adminUrl: Redacted.Redacted) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const name = `nestfleet_test_${randomBytes(6).toString("hex")}`
      yield* withAdmin(adminUrl, (client) => client.query(`create database ${pg.escapeIdentifier(name)}`))
      const url = new URL(Redacted.value(adminUrl))
      url.pathname = `/${name}`
      return { name, url: Redacted.make(url.toString()) }
    }),
    ({ name }) =>
      withAdmin(adminUrl, (client) => client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`))
        .pipe(Effect.orDie)
  )

/** A fresh database on the test server, reached through a proxy the test can slow down or cut. */
export const createProxiedServerDatabase = (adminUrl: Redacted.Redacted) =>
  Effect.gen(function*() {
    const { url } = yield* createServerDatabase(adminUrl)
    const target = new URL(Redacted.value(url))
    const proxy = yield* TcpProxy.make({ host: target.hostname, port: Number(target.port || 5432) })
    target.host = `127.0.0.1:${proxy.port}`
    return { url: Redacted.make(target.toString()), proxy }
  })

/** `Database` on a fresh, empty database. */
export const layerDatabase: Layer.Layer<Database.Database, DatabaseUnavailable | DataDirLocked> = Option.match(serverUrl, {
  onNone: () => Database.layerEmbedded({ dataDir: Database.inMemory }),
  onSome: (adminUrl) =>
    Layer.unwrapScoped(
      Effect.map(createServerDatabase(adminUrl), ({ url }) => Database.layerServer({ url, poolMax: 10 }))
    )
})

/** What the test database layers provide. */
export type Services = Database.Database | SqlClient.SqlClient

/** `Database` and `SqlClient` on a fresh database with every migration applied. */
export const layer = Layer.effectDiscard(Migrator.migrateDirectory).pipe(
  Layer.provideMerge(Sql.layer),
  Layer.provideMerge(layerDatabase),
  Layer.orDie
)

/** `Database` and `SqlClient` on a fresh database with no migrations applied. */
export const layerEmpty = Sql.layer.pipe(Layer.provideMerge(layerDatabase), Layer.orDie)
