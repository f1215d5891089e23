/**
 * The API process. With `--with-worker` it also runs the worker, in one process over one
 * database connection layer: that is `pnpm start:server`, and the only way to run on the
 * embedded database, which a single process owns.
 */
import { AuthConfig } from "@nestfleet/core/AuthConfig"
import { KeysConfig } from "@nestfleet/core/KeysConfig"
import { LlmConfig } from "@nestfleet/ai/LlmConfig"
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
import { Config, ConfigError, Either, Layer, Option } from "effect"
import { ApiServicesLive } from "./ApiServices.js"
import { HttpLive } from "./Http.js"
import { HttpConfig } from "./HttpConfig.js"

const withWorker = process.argv.includes("--with-worker")
const service = withWorker ? "nestfleet" : "nestfleet-api"

const app = Layer.mergeAll(HttpLive, withWorker ? WorkerLive : Layer.empty).pipe(
  Layer.provide(ApiServicesLive),
  // On its own the API only sends jobs; with the worker it works them too.
  Layer.provideMerge(withWorker ? JobQueue.Default : JobQueue.SendOnly),
  Layer.provide(Migrator.layer),
  Layer.provideMerge(Sql.layer),
  Layer.provide(Database.layer)
)

/**
 * Several API processes share one PostgreSQL server, so they must share the secret that
 * signs access tokens and the key that encrypts secrets at rest: with DATABASE_URL,
 * JWT_SECRET and ENCRYPTION_KEY are required (the embedded database keeps generated ones
 * in its data dir).
 */
const SharedSecretsConfig = Config.all([DatabaseConfig, KeysConfig]).pipe(
  Config.mapOrFail(([database, keys]) => {
    if (Option.isNone(database.url)) return Either.right(undefined)
    const required = (value: Option.Option<unknown>, name: string, shape: string) =>
      Option.isNone(value) ? [ConfigError.InvalidData([name], `required when DATABASE_URL is set (${shape})`)] : []
    const missing = [
      ...required(keys.jwtSecret, "JWT_SECRET", "at least 32 bytes"),
      ...required(keys.encryptionKey, "ENCRYPTION_KEY", "64 hex characters")
    ]
    return missing.length === 0 ? Either.right(undefined) : Either.left(missing.reduce(ConfigError.And))
  })
)

runMain({
  service,
  config: Config.all([
    DatabaseConfig,
    HttpConfig,
    AuthConfig,
    SharedSecretsConfig,
    JobsConfig,
    LlmConfig,
    LoggingConfig,
    TracingConfig(service)
  ]),
  main: Layer.launch(app)
})
