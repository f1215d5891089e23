/**
 * Runs a job's handler, an Effect program, for every job of its queue.
 *
 * - The payload is decoded first; a payload that does not decode can never succeed, so the
 *   job fails for good at once, with the reason, and is not retried.
 * - Each run is a span that continues the trace of whoever enqueued the job.
 * - A typed failure fails the attempt; pg-boss retries it per the job's policy.
 * - A defect is logged with the job id, then handled like a failure.
 */
import {
  Cause,
  Context,
  Effect,
  Either,
  Exit,
  FiberId,
  FiberRef,
  FiberRefs,
  HashMap,
  Layer,
  Option,
  ParseResult,
  Runtime,
  Schema
} from "effect"
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
  // One synchronous decode of envelope and payload: this runs for every job.
  const decode = Schema.decodeUnknownEither(JobEnvelope.schema(definition.payload))
  const maxAttempts = definition.retry.retryLimit + 1
  const spanName = `job ${definition.name}`

  const retried = (job: Job<unknown>, output: { readonly error: string; readonly message: string }): JobResult => {
    const attempt = job.retryCount + 1
    if (attempt < maxAttempts) wakeIn(retryAvailableAfterSeconds(definition, attempt))
    return { id: job.id, status: "failed", output }
  }

  const invalidPayload = (job: Job<unknown>, error: ParseResult.ParseError): Effect.Effect<JobResult> => {
    const reason = ParseResult.TreeFormatter.formatErrorSync(error)
    return Effect.as(
      Effect.logWarning("Job payload is invalid; failed without retry").pipe(Effect.annotateLogs("reason", reason)),
      { id: job.id, status: "deadletter", output: { error: "InvalidPayload", message: reason } }
    )
  }

  const failed = (job: Job<unknown>, attempt: number, cause: Cause.Cause<E>): Effect.Effect<JobResult> => {
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const described = describeFailure(failure.value)
      return Effect.as(
        Effect.logWarning(
          attempt < maxAttempts ? "Job attempt failed; it will be retried" : "Job failed on its last attempt"
        ).pipe(Effect.annotateLogs({ attempt, maxAttempts, error: described.error, reason: described.message })),
        retried(job, described)
      )
    }
    if (Cause.isInterruptedOnly(cause)) {
      return Effect.as(
        Effect.logWarning("Job attempt interrupted; it will be retried"),
        retried(job, { error: "Interrupted", message: "The worker stopped" })
      )
    }
    return Effect.as(
      Effect.logError("Job handler crashed", cause).pipe(Effect.annotateLogs({ attempt, maxAttempts })),
      retried(job, { error: "Defect", message: "The handler crashed; see logs" })
    )
  }

  // Written with combinators rather than a generator: this runs for every job.
  const runOne = (job: Job<unknown>, attempt: number): Effect.Effect<JobResult, never, R> => {
    const decoded = decode(job.data)
    if (Either.isLeft(decoded)) return invalidPayload(job, decoded.left)
    const parent = JobEnvelope.parentSpan(decoded.right)
    return handler(decoded.right.payload).pipe(
      Effect.withSpan(spanName, {
        kind: "consumer",
        captureStackTrace: false,
        ...(Option.isSome(parent) ? { parent: parent.value } : {}),
        attributes: { "job.id": job.id, "job.name": definition.name, "job.attempt": attempt }
      }),
      Effect.matchCauseEffect({
        onSuccess: (): Effect.Effect<JobResult> => Effect.succeed({ id: job.id, status: "completed" }),
        onFailure: (cause) => failed(job, attempt, cause)
      })
    )
  }

  const baseAnnotations = FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentLogAnnotations)

  /**
   * Each job runs as a fiber of its own, started from a runtime that already carries the
   * job (`CurrentJob`) and its log annotations. That is how the jobs of a batch run side
   * by side — handlers mostly wait on models, HTTP and SQL — at a fraction of the cost of
   * forking and joining a fiber per job, which showed in `pnpm bench jobs`.
   */
  const runtimeFor = (job: Job<unknown>, attempt: number) =>
    // The worker's context plus CurrentJob is all of R; TypeScript cannot see that for a generic R.
    Runtime.make<R>({
      context: Context.add(runtime.context, CurrentJob, { id: job.id, name: definition.name, attempt, maxAttempts }) as
        Context.Context<R>,
      runtimeFlags: runtime.runtimeFlags,
      fiberRefs: FiberRefs.updateAs(runtime.fiberRefs, {
        fiberId: FiberId.none,
        fiberRef: FiberRef.currentLogAnnotations,
        value: baseAnnotations.pipe(HashMap.set("jobId", job.id as unknown), HashMap.set("job", definition.name as unknown))
      })
    })

  return (jobs: ReadonlyArray<Job<unknown>>): Promise<Array<JobResult>> =>
    new Promise((resolve) => {
      const results = new Array<JobResult>(jobs.length)
      let running = jobs.length
      jobs.forEach((job, index) => {
        const attempt = job.retryCount + 1
        Runtime.runCallback(runtimeFor(job, attempt))(runOne(job, attempt), {
          onExit: (exit) => {
            // runOne turns every outcome of the handler into a result; only a bug of ours lands here.
            results[index] = Exit.isSuccess(exit)
              ? exit.value
              : { id: job.id, status: "failed", output: { error: "Defect", message: Cause.pretty(exit.cause) } }
            if (--running === 0) resolve(results)
          }
        })
      })
    })
}

/** How pg-boss fetches for a queue: the definition's concurrency and batch size, our polling. */
export const workOptions = (definition: JobDefinition.Any, config: JobsConfig) => ({
  localConcurrency: definition.worker.concurrency,
  batchSize: definition.worker.batchSize,
  // Keep fetching while batches come back full, so a backlog drains without waiting out the
  // poll interval between batches.
  burstWhenBatchFull: true,
  pollingIntervalSeconds: config.pollingIntervalSeconds,
  notifyPollingIntervalSeconds: config.pollingIntervalSeconds
})

/**
 * Works `definition`'s queue for the life of the scope; closing it lets running jobs finish.
 *
 * Each of the `concurrency` fetch loops is registered on its own, so a loop knows its own
 * id and can wake itself when a job it failed is due for a retry: NOTIFY announces new jobs
 * only, and a woken loop fetches again as soon as it has settled its batch.
 */
export const work = <A, I, E, R>(definition: JobDefinition<string, A, I>, handler: Handler<A, E, R>) =>
  Effect.gen(function*() {
    const { boss } = yield* JobQueue
    const config = yield* JobsConfig
    const runtime = yield* Effect.runtime<Exclude<R, CurrentJob>>()
    const options = { ...workOptions(definition, config), localConcurrency: 1, perJobResults: true }

    const registerLoop = async () => {
      let loopId: string | undefined
      const wake = () => loopId !== undefined && boss.notifyWorker(loopId)
      const wakeIn = (seconds: number) => {
        if (seconds <= 0) wake()
        else setTimeout(wake, seconds * 1000 + 20).unref()
      }
      loopId = await boss.work(definition.name, options, makeRunner(definition, handler, runtime, wakeIn))
    }

    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => Promise.all(Array.from({ length: definition.worker.concurrency }, registerLoop)),
        catch: (cause) => new JobQueueUnavailable({ message: `Cannot work the queue ${definition.name}`, cause })
      }),
      () => Effect.promise(() => boss.offWork(definition.name, { wait: true }))
    )
    yield* Effect.logDebug(`Working queue ${definition.name}`)
  })

export const layer = <A, I, E, R>(definition: JobDefinition<string, A, I>, handler: Handler<A, E, R>) =>
  Layer.scopedDiscard(work(definition, handler))
