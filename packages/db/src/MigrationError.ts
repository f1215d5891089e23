import { Data } from "effect"

export class InvalidMigrationFile extends Data.TaggedError("InvalidMigrationFile")<{
  readonly file: string
  readonly reason: string
}> {
  override get message() {
    return `Migration file ${this.file}: ${this.reason}`
  }
}

/** An applied migration's file was edited afterwards; the database no longer matches it. */
export class MigrationChecksumMismatch extends Data.TaggedError("MigrationChecksumMismatch")<{
  readonly name: string
  readonly applied: string
  readonly current: string
}> {
  override get message() {
    return `Migration ${this.name} was changed after it was applied (checksum ${this.applied.slice(0, 12)}… in the ` +
      `database, ${this.current.slice(0, 12)}… on disk). Applied migrations are immutable: restore the file and ` +
      `put the change in a new migration.`
  }
}

export class MigrationFailed extends Data.TaggedError("MigrationFailed")<{
  readonly name: string
  readonly cause: unknown
}> {
  override get message() {
    const detail = this.cause instanceof Error ? ((this.cause.cause as Error | undefined)?.message ?? this.cause.message) : ""
    return `Migration ${this.name} failed and was rolled back${detail ? `: ${detail}` : ""}`
  }
}

export class MigrationsPending extends Data.TaggedError("MigrationsPending")<{
  readonly names: ReadonlyArray<string>
}> {
  override get message() {
    return `The database schema is behind: ${this.names.join(", ")} not applied yet`
  }
}

export type MigrationError = InvalidMigrationFile | MigrationChecksumMismatch | MigrationFailed
