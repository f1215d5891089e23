/**
 * Runs a job's handler, an Effect program, for every job of its queue.
 *
 * - The payload is decoded first; a payload that does not decode can never succeed, so the
 *   job fails for good at once, with the reason, and is not retried.
 * - Each run is a span that continues the trace of whoever enqueued the job.
 * - A typed failure fails the attempt; pg-boss retries it per the job's policy.
 * - A defect is logged with the job id, then handled like a failure.
 */
import { Cause, Effect, Exit, Layer, Option, ParseResult, Runtime, Schema } from "effect"
import type { Job, JobResult } from "pg-boss"
import { CurrentJob } from "./CurrentJob.js"
import type { JobDefinition } from "./JobDefinition.js"
import * as JobEnvelope from "./JobEnvelope.js"
import { JobQueueUnavailable } from "./JobError.js"
import { JobQueue } from "./JobQueue.js"
import { JobsConfig } from "./JobsConfig.js"

export type Handler<A, E, R> = (payload: A) => Effect.Effect<void, E, R>

const describeFailure = (error: unknown): { readonly error: string; readonly message: string } => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : "Error"
    const message = "message" in error && typeof error.message === "string" ? error.message : String(error)
    return { error: tag, message }
  }
  return { error: "Error", message: String(error) }
}

const decodeJob = <A, I>(definition: JobDefinition<string, A, I>) => {
  const decodeEnvelope = Schema.decodeUnknown(JobEnvelope.JobEnvelope)
  const decodePayload = Schema.decodeUnknown(definition.payload)
  return (data: unknown) =>
    Effect.flatMap(decodeEnvelope(data), (envelope) =>
      Effect.map(decodePayload(envelope.payload), (payload) => ({ payload, parent: JobEnvelope.parentSpan(envelope) })))
}

/**
 * The longest pg-boss waits before a failed attempt's retry becomes available (its backoff
 * picks a delay between half this and this).
 */
export const retryAvailableAfterSeconds = ({ retry }: JobDefinition.Any, attempt: number): number =>
  retry.backoff
    ? Math.min(retry.retryDelayMaxSeconds ?? Infinity, retry.retryDelaySeconds * 2 ** Math.min(16, attempt))
    : retry.retryDelaySeconds

const makeRunner = <A, I, E, R>(
  definition: JobDefinition<string, A, I>,
  handler: Handler<A, E, R>,
  runtime: Runtime.Runtime<Exclude<R, CurrentJob>>,
  /** Called when a retry will be available in this many seconds (NOTIFY only covers new jobs). */
  wakeIn: (seconds: number) => void
) => {
  const decode = decodeJob(definition)
  const maxAttempts = definition.retry.retryLimit + 1

  const retried = (job: Job<unknown>, output: { readonly error: string; readonly message: string }): JobResult => {
    const attempt = job.retryCount + 1
    if (attempt < maxAttempts) wakeIn(retryAvailableAfterSeconds(definition, attempt))
    return { id: job.id, status: "failed", output }
  }

  const runOne = (job: Job<unknown>): Effect.Effect<JobResult> =>
    Effect.gen(function*() {
      const decoded = yield* Effect.either(decode(job.data))
      if (decoded._tag === "Left") {
        const reason = ParseResult.TreeFormatter.formatErrorSync(decoded.left)
        yield* Effect.logWarning("Job payload is invalid; failed without retry").pipe(
          Effect.annotateLogs("reason", reason)
        )
        return { id: job.id, status: "deadletter", output: { error: "InvalidPayload", message: reason } }
      }
      const { parent, payload } = decoded.right
      const attempt = job.retryCount + 1
      const exit = yield* handler(payload).pipe(
        Effect.provideService(CurrentJob, { id: job.id, name: definition.name, attempt, maxAttempts }),
        Effect.withSpan(`job ${definition.name}`, {
          kind: "consumer",
          ...(Option.isSome(parent) ? { parent: parent.value } : {}),
          attributes: { "job.id": job.id, "job.name": definition.name, "job.attempt": attempt }
        }),
        Effect.exit
      )
      if (Exit.isSuccess(exit)) {
        return { id: job.id, status: "completed" }
      }
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) {
        const described = describeFailure(failure.value)
        yield* Effect.logWarning(
          attempt < maxAttempts ? "Job attempt failed; it will be retried" : "Job failed on its last attempt"
        ).pipe(Effect.annotateLogs({ attempt, maxAttempts, error: described.error, reason: described.message }))
        return retried(job, described)
      }
      if (Cause.isInterruptedOnly(exit.cause)) {
        yield* Effect.logWarning("Job attempt interrupted; it will be retried")
        return retried(job, { error: "Interrupted", message: "The worker stopped" })
      }
      yield* Effect.logError("Job handler crashed", exit.cause).pipe(Effect.annotateLogs({ attempt, maxAttempts }))
      return retried(job, { error: "Defect", message: "The handler crashed; see logs" })
    }).pipe(Effect.annotateLogs({ jobId: job.id, job: definition.name })) as Effect.Effect<JobResult>

  return (jobs: ReadonlyArray<Job<unknown>>): Promise<Array<JobResult>> =>
    Runtime.runPromise(runtime)(
      Effect.forEach(jobs, runOne, { concurrency: "unbounded" })
    ) as Promise<Array<JobResult>>
}

/** Works `definition`'s queue for the life of the scope; closing it lets running jobs finish. */
export const work = <A, I, E, R>(definition: JobDefinition<string, A, I>, handler: Handler<A, E, R>) =>
  Effect.gen(function*() {
    const { boss } = yield* JobQueue
    const config = yield* JobsConfig
    const runtime = yield* Effect.runtime<Exclude<R, CurrentJob>>()
    let workerId: string | undefined
    const wakeIn = (seconds: number) => {
      // A wake during the handler makes the worker fetch again as soon as it has settled the batch.
      if (seconds <= 0) return workerId && boss.notifyWorker(workerId)
      setTimeout(() => workerId && boss.notifyWorker(workerId), seconds * 1000 + 20).unref()
    }
    const run = makeRunner(definition, handler, runtime, wakeIn)
    workerId = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          boss.work(
            definition.name,
            {
              localConcurrency: definition.worker.concurrency,
              batchSize: definition.worker.batchSize,
              perJobResults: true,
              pollingIntervalSeconds: config.pollingIntervalSeconds,
              notifyPollingIntervalSeconds: config.pollingIntervalSeconds
            },
            run
          ),
        catch: (cause) => new JobQueueUnavailable({ message: `Cannot work the queue ${definition.name}`, cause })
      }),
      () => Effect.promise(() => boss.offWork(definition.name, { wait: true }))
    )
    yield* Effect.logDebug(`Working queue ${definition.name}`)
  })

export const layer = <A, I, E, R>(definition: JobDefinition<string, A, I>, handler: Handler<A, E, R>) =>
  Layer.scopedDiscard(work(definition, handler))
