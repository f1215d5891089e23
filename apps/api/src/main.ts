/**
 * The API process. With `--with-worker` it also runs the worker, in one process over one
 * database connection layer: that is `pnpm start:server`, and the only way to run on the
 * embedded database, which a single process owns.
 */
import { AuthConfig } from "@nestfleet/core/AuthConfig"
import { ServerKeys } from "@nestfleet/core/ServerKeys"
import { LlmConfig } from "@nestfleet/ai/LlmConfig"
import * as Database from "@nestfleet/db/Database"
import { DatabaseConfig } from "@nestfleet/db/DatabaseConfig"
import * as Migrator from "@nestfleet/db/Migrator"
import * as Sql from "@nestfleet/db/Sql"
import { JobsConfig } from "@nestfleet/jobs/JobsConfig"
import { LoggingConfig } from "@nestfleet/observability/LoggingConfig"
import { runMain } from "@nestfleet/observability/Main"
import { TracingConfig } from "@nestfleet/observability/TracingConfig"
import { Config, Layer } from "effect"
import { makeAppLive } from "./App.js"
import { HttpLive } from "./Http.js"
import { HttpConfig } from "./HttpConfig.js"

const withWorker = process.argv.includes("--with-worker")
const service = withWorker ? "nestfleet" : "nestfleet-api"

/** The server at DATABASE_URL or the embedded database, with pending migrations applied. */
const MigratedDatabase = Migrator.layer.pipe(
  Layer.provideMerge(Sql.layer),
  Layer.provideMerge(Database.layer)
)

const AppLive = makeAppLive({ http: HttpLive, database: MigratedDatabase, withWorker })

runMain({
  service,
  config: Config.all([
    DatabaseConfig,
    HttpConfig,
    AuthConfig,
    // With DATABASE_URL both keys are required; checked here, before anything connects.
    ServerKeys.config,
    JobsConfig,
    LlmConfig,
    LoggingConfig,
    TracingConfig(service)
  ]),
  main: Layer.launch(AppLive)
})
