import { Data } from "effect"

/** The database could not be opened or reached at start. */
export class DatabaseUnavailable extends Data.TaggedError("DatabaseUnavailable")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** Another process holds the embedded database's data dir. */
export class DataDirLocked extends Data.TaggedError("DataDirLocked")<{
  readonly dataDir: string
  readonly pid: number
}> {
  override get message() {
    return `The embedded database in ${this.dataDir} is already open in process ${this.pid}. ` +
      `Stop that process, or set NESTFLEET_DATA_DIR to another directory, or set DATABASE_URL to use a PostgreSQL server.`
  }
}
