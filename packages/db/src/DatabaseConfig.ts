import { Config, ConfigError, Either, Option, Redacted } from "effect"
import * as Path from "node:path"

export interface DatabaseConfig {
  /** A PostgreSQL server; when absent the embedded database is used. */
  readonly url: Option.Option<Redacted.Redacted>
  /** Connections the app's pool may open to the server (the embedded database has one). */
  readonly poolMax: number
  /** Where the embedded database and its lock file live. */
  readonly dataDir: string
}

const postgresUrl = (name: string) =>
  Config.redacted(name).pipe(
    Config.mapOrFail((url) => {
      const value = Redacted.value(url)
      return /^postgres(ql)?:\/\//.test(value) && URL.canParse(value)
        ? Either.right(url)
        : Either.left(ConfigError.InvalidData([name], "Expected a postgres:// or postgresql:// URL"))
    })
  )

export const DatabaseConfig: Config.Config<DatabaseConfig> = Config.all({
  url: postgresUrl("DATABASE_URL").pipe(Config.option),
  poolMax: Config.integer("DATABASE_POOL_MAX").pipe(
    Config.validate({ message: "Expected an integer from 1 to 200", validation: (n) => n >= 1 && n <= 200 }),
    Config.withDefault(10)
  ),
  dataDir: Config.string("NESTFLEET_DATA_DIR").pipe(
    Config.withDefault(".nestfleet"),
    Config.map((dir) => Path.resolve(dir))
  )
})
