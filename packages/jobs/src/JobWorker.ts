/**
 * Runs a job's handler, an Effect program, for every job of its queue.
 *
 * - The payload is decoded first; a payload that does not decode can never succeed, so the
 *   job fails for good at once, with the reason, and is not retried.
 * - Each run is a span that continues the trace of whoever enqueued the job.
 * - A typed failure fails the attempt; pg-boss retries it per the job's policy.
 * - A defect is logged with the job id, then handled like a failure.
 * - An attempt that pg-boss gives up on (expired, claim lost) or that outlives a stop is
 *   interrupted, and retried.
 *
 * Each job runs in a fiber of its own in the worker's `FiberSet`, so the jobs of a batch run
 * side by side — handlers mostly wait on models, HTTP and SQL — and a stop that runs out of
 * time interrupts them there.
 *
 * This runs for every job. Three parts are done by hand because their plain form cost
 * throughput in `pnpm bench jobs` (NestFleet's share of bare pg-boss's: 91.4% as written,
 * 68.6% with every part in plain Effect, as bench/jobs/PlainRunner.ts does it): the job's
 * fiber starts with its `CurrentJob`, span and log annotations in place; the span is made
 * with the tracer (JobSpans); only a job still running after it started listens to its abort
 * signal. Each says what its plain form cost; `pnpm bench jobs-runner` measures the
 * runner alone, without a database.
 */
import {
  Cause,
  Context,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberId,
  FiberRef,
  FiberRefs,
  FiberSet,
  HashMap,
  Layer,
  Option,
  Runtime,
  Tracer
} from "effect"
import type { Job, JobResult } from "pg-boss"
import { CurrentJob } from "./CurrentJob.js"
import type { JobDefinition } from "./JobDefinition.js"
import * as JobEnvelope from "./JobEnvelope.js"
import { JobQueueUnavailable } from "./JobError.js"
import { JobQueue } from "./JobQueue.js"
import { JobsConfig } from "./JobsConfig.js"
import * as JobSpans from "./JobSpans.js"

export type Handler<A, E, R> = (payload: A) => Effect.Effect<void, E, R>

/** Runs a batch as pg-boss hands it over; resolves with one result per job, in the batch's order. */
export type RunBatch = (jobs: ReadonlyArray<Job<unknown>>) => Promise<Array<JobResult>>

const describeFailure = (error: unknown): { readonly error: string; readonly message: string } => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : "Error"
    const message = "message" in error && typeof error.message === "string" ? error.message : String(error)
    return { error: tag, message }
  }
  return { error: "Error", message: String(error) }
}

/**
 * The longest pg-boss waits before a failed attempt's retry becomes available. With backoff
 * it waits between half this and this, from a base of at least one second.
 */
export const retryAvailableAfterSeconds = ({ retry }: JobDefinition.Any, attempt: number): number =>
  retry.backoff
    ? Math.min(retry.retryDelayMaxSeconds ?? Infinity, Math.max(1, retry.retryDelaySeconds) * 2 ** Math.min(16, attempt))
    : retry.retryDelaySeconds

/** How one fetch loop runs its batches: each job in a fiber of its own in `running`. */
export const makeRunner = <A, I, E, R>(options: {
  readonly definition: JobDefinition<string, A, I>
  readonly handler: Handler<A, E, R>
  /** The worker's running jobs; interrupting them is how a stop that runs out of time ends them. */
  readonly running: FiberSet.FiberSet<JobResult>
  /** Called when a retry will be available in this many seconds (NOTIFY only covers new jobs). */
  readonly wakeIn: (seconds: number) => void
}): Effect.Effect<RunBatch, never, Exclude<R, CurrentJob>> =>
  Effect.gen(function*() {
    const { definition, handler, wakeIn } = options
    // Jobs start with the runtime flags of the fiber that made the runner; they must be
    // interruptible even when that fiber was not (a worker registers its loops in an acquire).
    const runtime = yield* Effect.interruptible(Effect.runtime<Exclude<R, CurrentJob>>())
    const run = yield* Effect.interruptible(FiberSet.runtime(options.running)<Exclude<R, CurrentJob>>())
    const spans = JobSpans.make(runtime.fiberRefs)
    const maxAttempts = definition.retry.retryLimit + 1
    const spanName = `job ${definition.name}`

    const decode = JobEnvelope.makeDecoder(definition.payload)

    const retried = (job: Job<unknown>, output: { readonly error: string; readonly message: string }): JobResult => {
      const attempt = job.retryCount + 1
      if (attempt < maxAttempts) wakeIn(retryAvailableAfterSeconds(definition, attempt))
      return { id: job.id, status: "failed", output }
    }

    const invalidPayload = (job: Job<unknown>, reason: string): Effect.Effect<JobResult> =>
      Effect.as(
        Effect.logWarning("Job payload is invalid; failed without retry").pipe(
          Effect.annotateLogs({ job: definition.name, jobId: job.id, reason })
        ),
        { id: job.id, status: "deadletter", output: { error: "InvalidPayload", message: reason } }
      )

    const failed = (job: Job<unknown>, attempt: number, cause: Cause.Cause<E>): Effect.Effect<JobResult> => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure)) {
        const described = describeFailure(failure.value)
        return Effect.zipRight(
          Effect.logWarning(
            attempt < maxAttempts ? "Job attempt failed; it will be retried" : "Job failed on its last attempt"
          ).pipe(Effect.annotateLogs({ attempt, maxAttempts, error: described.error, reason: described.message })),
          Effect.sync(() => retried(job, described))
        )
      }
      return Effect.zipRight(
        Effect.logError("Job handler crashed", cause).pipe(Effect.annotateLogs({ attempt, maxAttempts })),
        Effect.sync(() => retried(job, { error: "Defect", message: "The handler crashed; see logs" }))
      )
    }

    /** The attempt: the handler, its exit recorded on the span, then turned into a result. */
    const attemptOf = (job: Job<unknown>, attempt: number, payload: A, span: Option.Option<Tracer.Span>) =>
      handler(payload).pipe(
        Effect.exit,
        Effect.flatMap((exit): Effect.Effect<JobResult> => {
          spans.end(span, exit)
          return Exit.isSuccess(exit) ? Effect.succeed({ id: job.id, status: "completed" }) : failed(job, attempt, exit.cause)
        })
      )

    const workerAnnotations = HashMap.set(
      FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentLogAnnotations),
      "job",
      definition.name
    )

    /**
     * The job's fiber starts with `CurrentJob`, its span as the parent span and its log
     * annotations in place. Wrapping the handler in `Effect.provideService`, `Effect.withSpan`
     * and `Effect.annotateLogs` sets each for the handler's run and restores it after, which a
     * fiber that ends with its job has no use for: several µs a job each in the runner alone
     * (`withSpan` the most, see JobSpans), which spends about 9 µs on a whole job as written;
     * `pnpm bench jobs` ran at 84.3% with the three. The worker's context is merged into once (each add would copy it).
     */
    const startingWith = (job: Job<unknown>, context: Context.Context<CurrentJob> | Context.Context<CurrentJob | Tracer.ParentSpan>) => ({
      updateRefs: (refs: FiberRefs.FiberRefs, fiberId: FiberId.Runtime) =>
        FiberRefs.updateManyAs(refs, {
          entries: [
            [FiberRef.currentContext, [[fiberId, Context.merge(runtime.context, context)]]],
            [FiberRef.currentLogAnnotations, [[fiberId, HashMap.set(workerAnnotations, "jobId", job.id)]]]
          ]
        })
    })

    /** A finished attempt's result; one that did not finish normally becomes a failure. */
    const resultOf = (job: Job<unknown>, span: Option.Option<Tracer.Span>, exit: Exit.Exit<JobResult>): JobResult => {
      if (Exit.isSuccess(exit)) return exit.value
      spans.end(span, exit)
      if (Cause.isInterruptedOnly(exit.cause)) {
        Runtime.runFork(runtime)(
          Effect.logWarning("Job attempt interrupted; it will be retried").pipe(
            Effect.annotateLogs({ job: definition.name, jobId: job.id })
          )
        )
        return retried(job, { error: "Interrupted", message: "The attempt was stopped before it finished" })
      }
      // attemptOf turns every outcome of the handler into a result; only a bug of ours lands here.
      return { id: job.id, status: "failed", output: { error: "Defect", message: Cause.pretty(exit.cause) } }
    }

    /**
     * The job's result once its fiber is done; pg-boss aborting the job's signal (expiry, lost
     * claim) interrupts it. A fiber runs synchronously until it first waits, so a fast handler
     * has finished by the time `run` returns, and only a job still running listens to its
     * signal: listening makes Node link the job's signal to its batch's, which cost from 12 to
     * over 40 µs a job in the runner alone (by two measures), more than all the rest of a short job.
     */
    const settle = (
      job: Job<unknown>,
      span: Option.Option<Tracer.Span>,
      fiber: Fiber.RuntimeFiber<JobResult>
    ): JobResult | Promise<JobResult> => {
      const finished = fiber.unsafePoll()
      if (finished !== null) return resultOf(job, span, finished)
      return new Promise((resolve) => {
        const interrupt = () => fiber.unsafeInterruptAsFork(FiberId.none)
        job.signal.addEventListener("abort", interrupt, { once: true })
        fiber.addObserver((exit) => {
          job.signal.removeEventListener("abort", interrupt)
          resolve(resultOf(job, span, exit))
        })
      })
    }

    const runJob = (job: Job<unknown>): JobResult | Promise<JobResult> => {
      const decoded = decode(job.data)
      if (Either.isLeft(decoded)) return settle(job, Option.none(), run(invalidPayload(job, decoded.left)))
      const attempt = job.retryCount + 1
      const span = spans.start(spanName, decoded.right.parent, {
        "job.id": job.id,
        "job.name": definition.name,
        "job.attempt": attempt
      })
      const current = Context.make(CurrentJob, { id: job.id, name: definition.name, attempt, maxAttempts })
      const context = Option.isSome(span) ? Context.add(current, Tracer.ParentSpan, span.value) : current
      // The fiber starts with CurrentJob in its context (startingWith); TypeScript cannot see that.
      const attemptInContext = attemptOf(job, attempt, decoded.right.payload, span) as Effect.Effect<
        JobResult,
        never,
        Exclude<R, CurrentJob>
      >
      return settle(job, span, run(attemptInContext, startingWith(job, context)))
    }

    return (jobs) => Promise.all(jobs.map(runJob))
  })

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
 * Works `definition`'s queue for the life of the scope. Closing the scope stops fetching and
 * lets the running jobs finish; those still running after the shutdown timeout are
 * interrupted, and pg-boss retries them.
 *
 * Each of the `concurrency` fetch loops is registered on its own, so a loop knows its own
 * id and can wake itself when a job it failed is due for a retry: NOTIFY announces new jobs
 * only, and a woken loop fetches again as soon as it has settled its batch.
 */
export const work = <A, I, E, R>(definition: JobDefinition<string, A, I>, handler: Handler<A, E, R>) =>
  Effect.gen(function*() {
    const { boss } = yield* JobQueue
    const config = yield* JobsConfig
    const running = yield* FiberSet.make<JobResult>()
    const options = { ...workOptions(definition, config), localConcurrency: 1, perJobResults: true }

    const registerLoop = Effect.gen(function*() {
      let loopId: string | undefined
      const wake = () => loopId !== undefined && boss.notifyWorker(loopId)
      const runBatch = yield* makeRunner({
        definition,
        handler,
        running,
        wakeIn: (seconds) => {
          if (seconds <= 0) wake()
          else setTimeout(wake, seconds * 1000 + 20).unref()
        }
      })
      loopId = yield* Effect.tryPromise({
        try: () => boss.work(definition.name, options, runBatch),
        catch: (cause) => new JobQueueUnavailable({ message: `Cannot work the queue ${definition.name}`, cause })
      })
    })

    // Finalizers run uninterruptibly: the waits are made interruptible so their timeouts can end them.
    const stop = Effect.gen(function*() {
      const stopped = yield* Effect.fork(Effect.promise(() => boss.offWork(definition.name, { wait: true })))
      const waitStopped = Effect.interruptible(Fiber.join(stopped)).pipe(
        Effect.timeout(config.shutdownTimeout),
        Effect.option
      )
      if (Option.isNone(yield* waitStopped)) {
        yield* Effect.logWarning(`Jobs of ${definition.name} still running at the shutdown timeout; interrupting them`)
        yield* FiberSet.clear(running)
        // Interrupted jobs settle as failures (retried later), which lets pg-boss stop the loops.
        yield* waitStopped
      }
    })

    yield* Effect.acquireRelease(
      Effect.all(Array.from({ length: definition.worker.concurrency }, () => registerLoop), {
        concurrency: "unbounded",
        discard: true
      }),
      () => stop
    )
    yield* Effect.logDebug(`Working queue ${definition.name}`)
  })

export const layer = <A, I, E, R>(definition: JobDefinition<string, A, I>, handler: Handler<A, E, R>) =>
  Layer.scopedDiscard(work(definition, handler))
