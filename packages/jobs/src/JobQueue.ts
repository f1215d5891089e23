/**
 * pg-boss as a scoped service: started once, its queues created from the catalogue, and
 * stopped gracefully (running jobs finish) when the scope closes.
 *
 * `send` writes the job through the app's `SqlClient`. Inside `sql.withTransaction` it
 * therefore runs on that transaction's connection: the job exists if and only if the
 * transaction commits. That holds on the embedded database too, whose single connection
 * the transaction is holding.
 */
import { SqlClient } from "@effect/sql"
import { Database } from "@nestfleet/db/Database"
import * as PreparingClient from "@nestfleet/db/PreparingClient"
import { SqlError } from "@effect/sql/SqlError"
import { Cause, Context, Duration, Effect, Exit, Layer, Option, Runtime, Schema } from "effect"
import type { PgBoss } from "pg-boss"
import { JobCatalogue } from "./Catalogue.js"
import type { JobDefinition } from "./JobDefinition.js"
import * as JobEnvelope from "./JobEnvelope.js"
import { JobQueueUnavailable, JobSendError } from "./JobError.js"
import { JobsConfig } from "./JobsConfig.js"
import * as PgBossFactory from "./PgBossFactory.js"

export const JobId = Schema.String.pipe(Schema.brand("JobId"))
export type JobId = typeof JobId.Type

export interface SendOptions {
  /** At most one queued job per key (pg-boss singleton). */
  readonly singletonKey?: string
  /** Run no earlier than this. */
  readonly startAfter?: Date
}

/**
 * The queue options that express a job's retry policy (a delay cap only applies to backoff).
 * What a job lacks is `null`, which clears it on an existing queue.
 */
export const queueOptions = ({ deadLetter, retry }: JobDefinition.Any) => ({
  notify: true,
  retryLimit: retry.retryLimit,
  retryDelay: retry.retryDelaySeconds,
  retryBackoff: retry.backoff,
  expireInSeconds: retry.expireInSeconds,
  retryDelayMax: retry.backoff ? retry.retryDelayMaxSeconds ?? null : null,
  heartbeatSeconds: retry.heartbeatSeconds ?? null,
  deadLetter: deadLetter ?? null
})

/** The options a new queue is made with: those the job has (pg-boss's types take `null` in updates only). */
export const newQueueOptions = (job: JobDefinition.Any) => {
  const { deadLetter, heartbeatSeconds, retryDelayMax, ...options } = queueOptions(job)
  return {
    ...options,
    ...(deadLetter === null ? {} : { deadLetter }),
    ...(heartbeatSeconds === null ? {} : { heartbeatSeconds }),
    ...(retryDelayMax === null ? {} : { retryDelayMax })
  }
}

const attempt = <A>(message: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new JobQueueUnavailable({ message, cause }) })

/**
 * Whether this process works jobs (and so listens for new ones) or only sends them: the API
 * process on its own only sends. Workers registered in a process that does not listen still
 * run, woken by polling only.
 */
class WorksJobs extends Context.Reference<WorksJobs>()("@nestfleet/jobs/WorksJobs", {
  defaultValue: () => true
}) {}

const startBoss = Effect.gen(function*() {
  const database = yield* Database
  const config = yield* JobsConfig
  const listen = yield* WorksJobs
  return yield* Effect.acquireRelease(
    Effect.gen(function*() {
      const boss = PgBossFactory.make(database, { listen, superviseIntervalSeconds: config.superviseIntervalSeconds })
      const runtime = yield* Effect.runtime<never>()
      const runFork = Runtime.runFork(runtime)
      // pg-boss reports errors as plain objects (message, stack, queue): log what they say.
      boss.on("error", (error) =>
        runFork(Effect.logError(`Job queue error: ${error.message}`).pipe(Effect.annotateLogs({ stack: error.stack })))
      )
      boss.on("warning", (warning) => runFork(Effect.logWarning(`Job queue warning: ${warning.message}`)))
      yield* attempt("The job queue (pg-boss) failed to start", () => boss.start())
      return boss
    }),
    (boss) =>
      Effect.promise(() =>
        boss.stop({ graceful: true, timeout: Duration.toMillis(config.shutdownTimeout), close: true })
      ).pipe(Effect.zipRight(Effect.logDebug("Job queue stopped")))
  )
})

const createQueue = (boss: PgBoss, job: JobDefinition.Any) =>
  attempt(`Cannot create the queue ${job.name}`, async () => {
    await boss.createQueue(job.name, newQueueOptions(job))
    // createQueue leaves an existing queue alone; bring its policy up to date.
    await boss.updateQueue(job.name, queueOptions(job))
  })

/** The catalogue in the order its queues can be made: a dead letter queue before those that use it. */
const creationOrder = (catalogue: ReadonlyArray<JobDefinition.Any>) =>
  [...catalogue].sort((a, b) => Number(a.deadLetter !== undefined) - Number(b.deadLetter !== undefined))

export class JobQueue extends Effect.Service<JobQueue>()("@nestfleet/jobs/JobQueue", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const catalogue = yield* JobCatalogue
    const boss = yield* startBoss
    const missing = catalogue.filter((job) => job.deadLetter !== undefined && !catalogue.some((other) => other.name === job.deadLetter))
    if (missing.length > 0) {
      return yield* new JobQueueUnavailable({
        message: `The jobs catalogue lacks the dead letter job of ${missing.map((job) => `${job.name} (${job.deadLetter})`).join(", ")}`
      })
    }
    yield* Effect.forEach(creationOrder(catalogue), (job) => createQueue(boss, job), { discard: true })

    const known = new Set(catalogue.map((job) => job.name))

    /**
     * pg-boss's statements, run in the caller's fiber context: on the caller's transaction
     * when there is one (straight on its connection: the job insert is one statement, and
     * this runs for every job sent), else through our SqlClient.
     */
    const callerDb = (runtime: Runtime.Runtime<never>, options: { readonly prepare: boolean }) => {
      const transaction = Context.getOption(runtime.context, SqlClient.TransactionConnection)
      const statement = (text: string, values: ReadonlyArray<unknown>) => {
        const marked = options.prepare ? `${PreparingClient.marker}${text}` : text
        return Option.isSome(transaction) ? transaction.value[0].executeRaw(marked, values) : sql.unsafe(marked, values).raw
      }
      return {
        executeSql: async (text: string, values?: Array<unknown>) => {
          const exit = await Runtime.runPromiseExit(runtime)(statement(text, values ?? []))
          if (Exit.isSuccess(exit)) return exit.value as { rows: Array<any> }
          // pg-boss reads the driver's error (code, constraint) to explain a failed insert.
          const error = Cause.squash(exit.cause)
          throw error instanceof SqlError ? error.cause : error
        }
      }
    }

    const send = Effect.fn("JobQueue.send", { kind: "producer" })(
      function*<A, I>(job: JobDefinition<string, A, I>, payload: A, options: SendOptions = {}) {
        yield* Effect.annotateCurrentSpan("job.name", job.name)
        // Refused up front: pg-boss would look an unknown queue up on a connection of its own,
        // which inside a transaction on the embedded database's single connection never comes.
        if (!known.has(job.name)) {
          return yield* new JobSendError({ job: job.name, cause: new Error("the job is not in the catalogue") })
        }
        const encoded = yield* Schema.encode(job.payload)(payload).pipe(Effect.orDie)
        const envelope = yield* JobEnvelope.wrap(encoded)
        const runtime = yield* Effect.runtime<never>()
        const id = yield* Effect.tryPromise({
          // The job insert: fixed text for each queue, and an insert only, so it is safe to
          // prepare (see PreparingClient).
          try: () => boss.send(job.name, envelope, { ...options, db: callerDb(runtime, { prepare: true }) }),
          catch: (cause) => new JobSendError({ job: job.name, cause })
        })
        yield* Effect.annotateCurrentSpan("job.id", id ?? "deduplicated")
        return Option.map(Option.fromNullable(id), JobId.make)
      }
    )

    /**
     * The job of `job` sent with `singletonKey` that is still waiting to start: created, or
     * failed and waiting for its retry. None once it has started (or finished for good).
     *
     * Read in the caller's transaction, like `send`. The answer holds until the caller sends:
     * two callers asking at once would both be told none, so a caller that must send at
     * most one job per key serializes its sends of that key first (Cases holds the case's
     * row lock). pg-boss's queue policies draw other lines — `short` counts created jobs
     * only, `stately` one per state (a created and a retrying one at once), `exclusive` the
     * running one too, which must not hold a new one back — and a queue's policy cannot be
     * changed once it exists; the pipeline's queues are `standard`, where a singleton key
     * alone limits nothing.
     */
    const findWaiting = Effect.fn("JobQueue.findWaiting")(
      function*(job: JobDefinition.Any, singletonKey: string) {
        yield* Effect.annotateCurrentSpan("job.name", job.name)
        if (!known.has(job.name)) {
          return yield* new JobQueueUnavailable({ message: `The job ${job.name} is not in the catalogue` })
        }
        const runtime = yield* Effect.runtime<never>()
        // Not prepared: a lookup whose best plan depends on how many jobs the queue holds.
        const db = callerDb(runtime, { prepare: false })
        const [waiting] = yield* attempt(
          `Cannot look up the waiting ${job.name} jobs`,
          () => boss.findJobs(job.name, { key: singletonKey, queued: true, limit: 1, db })
        )
        return Option.map(Option.fromNullable(waiting), ({ createdOn, id }) => ({ id: JobId.make(id), createdOn }))
      }
    )

    /** Answers whether pg-boss's schema is reachable. */
    const ping = attempt("The job queue is unreachable", () => boss.schemaVersion()).pipe(
      Effect.flatMap((version) =>
        version === null ? Effect.fail(new JobQueueUnavailable({ message: "pg-boss is not installed" })) : Effect.void
      )
    )

    return {
      send,
      findWaiting,
      ping,
      /** pg-boss itself, for the worker runner and tests. Produce jobs with `send`, which is typed and transactional. */
      boss
    } as const
  })
}) {
  /** The job queue of a process that only sends jobs (see WorksJobs). */
  static readonly SendOnly = Layer.provide(JobQueue.Default, Layer.succeed(WorksJobs, false))
}
