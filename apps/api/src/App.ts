/**
 * The API process as one layer: the HTTP server over the API's services and the job queue,
 * on a database, with the worker's pipeline steps in the same process when asked for.
 * `main.ts` and the test server (`test/TestServer.ts`) both build it, so a test serves what
 * an operator runs; they differ only in what they hand in.
 */
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { WorkerLive } from "@nestfleet/worker/Worker"
import { Layer } from "effect"
import { ApiServicesLive } from "./ApiServices.js"

interface AppOptions<HttpOut, HttpError, HttpIn, DatabaseOut, DatabaseError> {
  /**
   * What serves the API: `Http.HttpLive` (HOST, PORT, …) in `main.ts`, `Http.makeLayer` on a
   * free port in tests.
   */
  readonly http: Layer.Layer<HttpOut, HttpError, HttpIn>
  /**
   * `Database` and `SqlClient` on a migrated database. Handed in rather than built here:
   * API code other than `main.ts` does not import `@nestfleet/db` (scripts/check-dependencies.ts),
   * and tests bring a database of their own.
   */
  readonly database: Layer.Layer<DatabaseOut, DatabaseError>
  /**
   * Also work jobs in this process (`--with-worker`; the only way on the embedded database,
   * which one process owns). On its own the API only sends them.
   */
  readonly withWorker: boolean
}

export const makeAppLive = <HttpOut, HttpError, HttpIn, DatabaseOut, DatabaseError>(
  options: AppOptions<HttpOut, HttpError, HttpIn, DatabaseOut, DatabaseError>
) =>
  Layer.mergeAll(options.http, options.withWorker ? WorkerLive : Layer.empty).pipe(
    Layer.provide(ApiServicesLive),
    Layer.provideMerge(options.withWorker ? JobQueue.Default : JobQueue.SendOnly),
    Layer.provideMerge(options.database)
  )
