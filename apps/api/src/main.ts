/**
 * The API process. With `--with-worker` it also runs the worker, in one process over one
 * database connection layer: that is `pnpm start:server`, and the only way to run on the
 * embedded database, which a single process owns.
 */
import { SystemStatus } from "@nestfleet/core/SystemStatus"
import * as Database from "@nestfleet/db/Database"
import { DatabaseConfig } from "@nestfleet/db/DatabaseConfig"
import * as Migrator from "@nestfleet/db/Migrator"
import * as Sql from "@nestfleet/db/Sql"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { JobsConfig } from "@nestfleet/jobs/JobsConfig"
import { LoggingConfig } from "@nestfleet/observability/LoggingConfig"
import { runMain } from "@nestfleet/observability/Main"
import { TracingConfig } from "@nestfleet/observability/TracingConfig"
import { WorkerLive } from "@nestfleet/worker/Worker"
import { Config, Layer } from "effect"
import { HttpLive } from "./Http.js"
import { HttpConfig } from "./HttpConfig.js"

const withWorker = process.argv.includes("--with-worker")
const service = withWorker ? "nestfleet" : "nestfleet-api"

const app = Layer.mergeAll(HttpLive, withWorker ? WorkerLive : Layer.empty).pipe(
  Layer.provide(SystemStatus.Default),
  Layer.provideMerge(JobQueue.Default),
  Layer.provide(Migrator.layer),
  Layer.provideMerge(Sql.layer),
  Layer.provide(Database.layer)
)

runMain({
  service,
  config: Config.all([DatabaseConfig, HttpConfig, JobsConfig, LoggingConfig, TracingConfig(service)]),
  main: Layer.launch(app)
})
