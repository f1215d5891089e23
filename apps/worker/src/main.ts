/**
 * The worker process alone (the API applies migrations; the worker waits for them). It reads
 * the AI settings admins set, whose API key is stored encrypted: it needs ENCRYPTION_KEY
 * (with DATABASE_URL), the same as the API's, but not JWT_SECRET.
 */
import { LlmConfig } from "@nestfleet/ai/LlmConfig"
import { AiSettings } from "@nestfleet/core/AiSettings"
import { SecretCipher } from "@nestfleet/core/SecretCipher"
import { ServerKeys } from "@nestfleet/core/ServerKeys"
import * as Database from "@nestfleet/db/Database"
import { DatabaseConfig } from "@nestfleet/db/DatabaseConfig"
import * as Migrator from "@nestfleet/db/Migrator"
import * as Sql from "@nestfleet/db/Sql"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { JobsConfig } from "@nestfleet/jobs/JobsConfig"
import { LoggingConfig } from "@nestfleet/observability/LoggingConfig"
import { runMain } from "@nestfleet/observability/Main"
import { TracingConfig } from "@nestfleet/observability/TracingConfig"
import { Config, Effect, Layer, Schedule } from "effect"
import { WorkerLive } from "./Worker.js"

const schemaReady = Layer.effectDiscard(
  Migrator.requireUpToDate.pipe(
    Effect.tapError((error) => Effect.logInfo(`Waiting for the API to migrate the database: ${error.message}`)),
    Effect.retry({ while: (error) => error._tag === "MigrationsPending", schedule: Schedule.spaced("2 seconds") })
  )
)

const app = WorkerLive.pipe(
  Layer.provide(AiSettings.Default),
  Layer.provide(SecretCipher.EncryptionKeyOnly),
  Layer.provide(JobQueue.Default),
  Layer.provide(schemaReady),
  Layer.provideMerge(Sql.layer),
  Layer.provide(Database.layer)
)

runMain({
  service: "nestfleet-worker",
  config: Config.all([
    DatabaseConfig,
    ServerKeys.encryptionKeyConfig,
    JobsConfig,
    LlmConfig,
    LoggingConfig,
    TracingConfig("nestfleet-worker")
  ]),
  main: Layer.launch(app)
})
