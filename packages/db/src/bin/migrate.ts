/**
 * `pnpm migrate`: applies pending migrations to the database at `DATABASE_URL` (or the
 * embedded one) and exits. The API does the same at every start.
 */
import { LoggingConfig } from "@nestfleet/observability/LoggingConfig"
import { runMain } from "@nestfleet/observability/Main"
import { TracingConfig } from "@nestfleet/observability/TracingConfig"
import { Config, Effect } from "effect"
import * as Database from "../Database.js"
import { DatabaseConfig } from "../DatabaseConfig.js"
import * as Migrator from "../Migrator.js"
import * as Sql from "../Sql.js"

runMain({
  service: "nestfleet-migrate",
  config: Config.all([DatabaseConfig, Migrator.MigrationsDirectory, LoggingConfig, TracingConfig("nestfleet-migrate")]),
  main: Migrator.migrateDirectory.pipe(
    Effect.provide(Sql.layer),
    Effect.provide(Database.layer)
  )
})
