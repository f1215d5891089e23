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
  ParseResult,
  Runtime,
  Schema,
  Tracer
} from "effect"
import type { Job, JobResult } from "pg-boss"
import { CurrentJob } from "./CurrentJob.js"
import type { JobDefinition } from "./JobDefinition.js"
import * as JobEnvelope from "./JobEnvelope.js"
import * as JobSpans from "./JobSpans.js"
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
 * The longest pg-boss waits before a failed attempt's retry becomes available. With backoff
 * it waits between half this and this, from a base of at least one second.
 */
export const retryAvailableAfterSeconds = ({ retry }: JobDefinition.Any, attempt: number): number =>
  retry.backoff
    ? Math.min(retry.retryDelayMaxSeconds ?? Infinity, Math.max(1, retry.retryDelaySeconds) * 2 ** Math.min(16, attempt))
    : retry.retryDelaySeconds

interface Runner {
  /** Runs a batch as pg-boss hands it over; resolves with one result per job. */
  readonly runBatch: (jobs: ReadonlyArray<Job<unknown>>) => Promise<Array<JobResult>>
}

const makeRunner = <A, I, E, R>(options: {
  readonly definition: JobDefinition<string, A, I>
  readonly handler: Handler<A, E, R>
  readonly runtime: Runtime.Runtime<Exclude<R, CurrentJob>>
  /** The running jobs; interrupting them is how a stop that runs out of time ends them. */
  readonly running: FiberSet.FiberSet<JobResult>
  /** Called when a retry will be available in this many seconds (NOTIFY only covers new jobs). */
  readonly wakeIn: (seconds: number) => void
}): Runner => {
  const { definition, handler, runtime, running, wakeIn } = options
  const decodePayload = Schema.decodeUnknownEither(definition.payload)
  /** The payload and the enqueuer's trace context, or why the job can never run. */
  const decode = (data: unknown): Either.Either<{ readonly payload: A; readonly parent: Option.Option<Tracer.AnySpan> }, string> => {
    const envelope = JobEnvelope.read(data)
    if (Either.isLeft(envelope)) return Either.left(envelope.left)
    const payload = decodePayload(envelope.right.payload)
    return Either.isLeft(payload)
      ? Either.left(ParseResult.TreeFormatter.formatErrorSync(payload.left))
      : Either.right({ payload: payload.right, parent: JobEnvelope.parentSpan(envelope.right) })
  }
  const maxAttempts = definition.retry.retryLimit + 1
  const spanName = `job ${definition.name}`

  const retried = (job: Job<unknown>, output: { readonly error: string; readonly message: string }): JobResult => {
    const attempt = job.retryCount + 1
    if (attempt < maxAttempts) wakeIn(retryAvailableAfterSeconds(definition, attempt))
    return { id: job.id, status: "failed", output }
  }

  const invalidPayload = (job: Job<unknown>, reason: string): Effect.Effect<JobResult> =>
    Effect.as(
      Effect.logWarning("Job payload is invalid; failed without retry").pipe(Effect.annotateLogs("reason", reason)),
      { id: job.id, status: "deadletter", output: { error: "InvalidPayload", message: reason } }
    )

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
    return Effect.as(
      Effect.logError("Job handler crashed", cause).pipe(Effect.annotateLogs({ attempt, maxAttempts })),
      retried(job, { error: "Defect", message: "The handler crashed; see logs" })
    )
  }

  const spans = JobSpans.make(runtime.fiberRefs)

  /** The attempt: the handler, its exit recorded on the span, then turned into a result. */
  const attemptOf = (job: Job<unknown>, attempt: number, payload: A, span: Option.Option<Tracer.Span>) =>
    handler(payload).pipe(
      Effect.exit,
      Effect.flatMap((exit): Effect.Effect<JobResult> => {
        spans.end(span, exit)
        return Exit.isSuccess(exit) ? Effect.succeed({ id: job.id, status: "completed" }) : failed(job, attempt, exit.cause)
      })
    )

  const baseAnnotations = FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentLogAnnotations)

  /**
   * Each job runs as a fiber of its own, started from a runtime that already carries the
   * job (`CurrentJob`), its span and its log annotations. That is how the jobs of a batch
   * run side by side — handlers mostly wait on models, HTTP and SQL — at a fraction of the
   * cost of forking a fiber per job and wrapping it, which showed in `pnpm bench jobs`.
   */
  const runtimeFor = (job: Job<unknown>, attempt: number, span: Option.Option<Tracer.Span>) => {
    const current = Context.make(CurrentJob, { id: job.id, name: definition.name, attempt, maxAttempts })
    // One merge into the worker's context (each add would copy it). The worker's context plus
    // CurrentJob is all of R; TypeScript cannot see that for a generic R.
    const context = Context.merge(
      runtime.context,
      Option.isSome(span) ? Context.add(current, Tracer.ParentSpan, span.value) : current
    ) as Context.Context<R>
    return Runtime.make<R>({
      context,
      runtimeFlags: runtime.runtimeFlags,
      fiberRefs: FiberRefs.updateAs(runtime.fiberRefs, {
        fiberId: FiberId.none,
        fiberRef: FiberRef.currentLogAnnotations,
        value: baseAnnotations.pipe(HashMap.set("jobId", job.id as unknown), HashMap.set("job", definition.name as unknown))
      })
    })
  }

  /** Hands a finished attempt's result on; an attempt that did not finish normally becomes a failure. */
  const settle = (
    job: Job<unknown>,
    span: Option.Option<Tracer.Span>,
    jobRuntime: Runtime.Runtime<R>,
    onResult: (result: JobResult) => void,
    exit: Exit.Exit<JobResult>
  ) => {
    if (Exit.isSuccess(exit)) return onResult(exit.value)
    spans.end(span, exit)
    if (Cause.isInterruptedOnly(exit.cause)) {
      Runtime.runFork(jobRuntime)(Effect.logWarning("Job attempt interrupted; it will be retried"))
      return onResult(retried(job, { error: "Interrupted", message: "The attempt was stopped before it finished" }))
    }
    // attemptOf turns every outcome of the handler into a result; only a bug of ours lands here.
    onResult({ id: job.id, status: "failed", output: { error: "Defect", message: Cause.pretty(exit.cause) } })
  }

  /**
   * Starts a job; pg-boss aborting its signal (expiry, lost claim) interrupts it. A fast
   * handler has finished by the time `runFork` returns; only a job still running listens to
   * its signal, because listening makes Node link the job's signal to its batch's, which
   * costs more than the rest of a short job. Nor does it make a closure per job for a job
   * that has finished by then: this runs for every job.
   */
  const start = (job: Job<unknown>, onResult: (result: JobResult) => void) => {
    const attempt = job.retryCount + 1
    const decoded = decode(job.data)
    const span = Either.isRight(decoded)
      ? spans.start(spanName, decoded.right.parent, { "job.id": job.id, "job.name": definition.name, "job.attempt": attempt })
      : Option.none()
    const jobRuntime = runtimeFor(job, attempt, span)
    const fiber = Runtime.runFork(jobRuntime)(
      Either.isLeft(decoded) ? invalidPayload(job, decoded.left) : attemptOf(job, attempt, decoded.right.payload, span)
    )
    const finished = fiber.unsafePoll()
    if (finished !== null) return settle(job, span, jobRuntime, onResult, finished)
    const interrupt = () => fiber.unsafeInterruptAsFork(FiberId.none)
    job.signal.addEventListener("abort", interrupt, { once: true })
    fiber.addObserver((exit) => {
      job.signal.removeEventListener("abort", interrupt)
      settle(job, span, jobRuntime, onResult, exit)
    })
    FiberSet.unsafeAdd(running, fiber)
  }

  return {
    runBatch: (jobs) =>
      new Promise((resolve) => {
        const results = new Array<JobResult>(jobs.length)
        let pending = jobs.length
        jobs.forEach((job, index) =>
          start(job, (result) => {
            results[index] = result
            if (--pending === 0) resolve(results)
          })
        )
      })
  }
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
    const runtime = yield* Effect.runtime<Exclude<R, CurrentJob>>()
    const running = yield* FiberSet.make<JobResult>()
    const options = { ...workOptions(definition, config), localConcurrency: 1, perJobResults: true }

    const registerLoop = async () => {
      let loopId: string | undefined
      const wake = () => loopId !== undefined && boss.notifyWorker(loopId)
      const wakeIn = (seconds: number) => {
        if (seconds <= 0) wake()
        else setTimeout(wake, seconds * 1000 + 20).unref()
      }
      const runner = makeRunner({ definition, handler, runtime, running, wakeIn })
      loopId = await boss.work(definition.name, options, runner.runBatch)
    }

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
      Effect.tryPromise({
        try: () => Promise.all(Array.from({ length: definition.worker.concurrency }, registerLoop)),
        catch: (cause) => new JobQueueUnavailable({ message: `Cannot work the queue ${definition.name}`, cause })
      }),
      () => stop
    )
    yield* Effect.logDebug(`Working queue ${definition.name}`)
  })

export const layer = <A, I, E, R>(definition: JobDefinition<string, A, I>, handler: Handler<A, E, R>) =>
  Layer.scopedDiscard(work(definition, handler))
