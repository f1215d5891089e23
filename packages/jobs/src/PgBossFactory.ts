/**
 * Builds pg-boss for the database at hand. On a server pg-boss keeps its own small pool
 * and LISTEN connection. On the embedded database it must share the app's single-session
 * pool — a second path into PGlite would run its statements inside whatever transaction
 * the app has open.
 */
import { type Database, type Listen } from "@nestfleet/db/Database"
import { Redacted } from "effect"
import type pg from "pg"
import { type ConstructorOptions, type Db, PgBoss } from "pg-boss"

const embeddedAdapter = (pool: pg.Pool, listen: Listen): Db => ({
  async executeSql(text, values) {
    const client = await pool.connect()
    try {
      return await client.query(text, values)
    } catch (error) {
      // pg-boss sends some `BEGIN … COMMIT` blocks as one statement. On a server a failed one
      // dies with its connection; here the session lives on, so close the aborted transaction.
      await client.query("ROLLBACK").catch(() => {})
      throw error
    } finally {
      client.release()
    }
  },
  async listen(channel, onNotification, onReconnect) {
    const unlisten = await listen(channel, onNotification)
    onReconnect()
    return { close: unlisten }
  }
})

export interface Options {
  /**
   * Whether this process LISTENs for new jobs, to wake its workers at once. A process that
   * only sends jobs does not: its inserts still NOTIFY the processes that work them, and it
   * is spared a notification (and Postgres a listener to signal) for every job it sends.
   */
  readonly listen: boolean
  /** Seconds between supervision passes (expired and lost attempts); pg-boss's default is 60. */
  readonly superviseIntervalSeconds?: number
}

export const make = (database: Database["Type"], options: Options = { listen: true }): PgBoss => {
  const common: ConstructorOptions = {
    useListenNotify: options.listen,
    // A pass needs both timers due, so they move together.
    ...(options.superviseIntervalSeconds === undefined ? {} : {
      superviseIntervalSeconds: options.superviseIntervalSeconds,
      monitorIntervalSeconds: options.superviseIntervalSeconds
    }),
    // Our own spans carry the trace across the queue (see JobEnvelope).
    openTelemetry: { enabled: false },
    instanceName: "nestfleet"
  }
  const backend = database.backend
  switch (backend._tag) {
    case "Server":
      return new PgBoss({ ...common, connectionString: Redacted.value(backend.url), application_name: "nestfleet-jobs" })
    case "Embedded":
      return new PgBoss({ ...common, db: embeddedAdapter(database.pool, backend.listen), backend: "pglite" })
  }
}
