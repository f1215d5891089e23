/**
 * The job runner written with Effect's combinators alone, for `bench/jobs/runner.ts` to
 * compare with JobWorker.makeRunner; nothing else uses it. It does what JobWorker does, the
 * plain way: the batch an Effect that forks each job into the worker's FiberSet and awaits
 * it, every job listening to its abort signal, and the handler wrapped in
 * `Effect.provideService(CurrentJob, …)`, `Effect.withSpan(…, { parent })` and
 * `Effect.annotateLogs`. In place of JobWorker's runner, `pnpm bench jobs` ran at 68.6% of
 * bare pg-boss (rounds 50–78%, on a machine others were loading too) where JobWorker's runs at
 * 91.4%; JobWorker says at each part it does by hand what the plain form of that part cost.
 */
import { CurrentJob } from "@nestfleet/jobs/CurrentJob"
import type { JobDefinition } from "@nestfleet/jobs/JobDefinition"
import * as JobEnvelope from "@nestfleet/jobs/JobEnvelope"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { Cause, Effect, Either, Exit, Fiber, FiberId, FiberSet, Option } from "effect"
import type { Job, JobResult } from "pg-boss"

const describeFailure = (error: unknown): { readonly error: string; readonly message: string } => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : "Error"
    const message = "message" in error && typeof error.message === "string" ? error.message : String(error)
    return { error: tag, message }
  }
  return { error: "Error", message: String(error) }
}

/** pg-boss aborting a job's signal (expiry, lost claim) interrupts the job's fiber. */
const interruptOnAbort = (signal: AbortSignal, fiber: Fiber.RuntimeFiber<unknown>) =>
  Effect.sync(() => {
    const interrupt = () => fiber.unsafeInterruptAsFork(FiberId.none)
    signal.addEventListener("abort", interrupt, { once: true })
    fiber.addObserver(() => signal.removeEventListener("abort", interrupt))
  })

/** The batches of one fetch loop, as JobWorker.makeRunner runs them, each job forked into `running`. */
export const makeRunner = <A, I, E, R>(options: {
  readonly definition: JobDefinition<string, A, I>
  readonly handler: JobWorker.Handler<A, E, R>
  /** The worker's running jobs; interrupting them is how a stop that runs out of time ends them. */
  readonly running: FiberSet.FiberSet<JobResult>
  /** Called when a retry will be available in this many seconds (NOTIFY only covers new jobs). */
  readonly wakeIn: (seconds: number) => void
}) => {
  const { definition, handler, running, wakeIn } = options
  const decode = JobEnvelope.makeDecoder(definition.payload)
  const maxAttempts = definition.retry.retryLimit + 1
  const spanName = `job ${definition.name}`

  const retried = (job: Job<unknown>, output: { readonly error: string; readonly message: string }): JobResult => {
    const attempt = job.retryCount + 1
    if (attempt < maxAttempts) wakeIn(JobWorker.retryAvailableAfterSeconds(definition, attempt))
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

  /** One attempt at a job, in a span that continues the enqueuer's trace, turned into its result. */
  const attemptOf = (job: Job<unknown>): Effect.Effect<JobResult, never, Exclude<R, CurrentJob>> => {
    const decoded = decode(job.data)
    if (Either.isLeft(decoded)) return Effect.annotateLogs(invalidPayload(job, decoded.left), "jobId", job.id)
    const attempt = job.retryCount + 1
    return handler(decoded.right.payload).pipe(
      Effect.provideService(CurrentJob, { id: job.id, name: definition.name, attempt, maxAttempts }),
      Effect.withSpan(spanName, {
        kind: "consumer",
        // A job sent outside any span starts a trace of its own.
        ...Option.match(decoded.right.parent, { onNone: () => ({ root: true }), onSome: (parent) => ({ parent }) }),
        attributes: { "job.id": job.id, "job.name": definition.name, "job.attempt": attempt },
        captureStackTrace: false
      }),
      Effect.matchCauseEffect({
        onSuccess: (): Effect.Effect<JobResult> => Effect.succeed({ id: job.id, status: "completed" }),
        onFailure: (cause) => failed(job, attempt, cause)
      }),
      Effect.onInterrupt(() => Effect.logWarning("Job attempt interrupted; it will be retried")),
      Effect.annotateLogs("jobId", job.id)
    )
  }

  /** The job's result from its fiber's exit: an attempt that did not finish is retried. */
  const resultOf = (job: Job<unknown>, exit: Exit.Exit<JobResult>): JobResult => {
    if (Exit.isSuccess(exit)) return exit.value
    if (Cause.isInterruptedOnly(exit.cause)) {
      return retried(job, { error: "Interrupted", message: "The attempt was stopped before it finished" })
    }
    // attemptOf turns every outcome of the handler into a result; only a bug of ours lands here.
    return { id: job.id, status: "failed", output: { error: "Defect", message: Cause.pretty(exit.cause) } }
  }

  return (jobs: ReadonlyArray<Job<unknown>>): Effect.Effect<Array<JobResult>, never, Exclude<R, CurrentJob>> =>
    Effect.forEach(jobs, (job) =>
      Effect.flatMap(FiberSet.run(running, attemptOf(job)), (fiber) => Effect.as(interruptOnAbort(job.signal, fiber), fiber))
    ).pipe(
      Effect.flatMap((fibers) =>
        Effect.forEach(fibers, (fiber, index) => Effect.map(Fiber.await(fiber), (exit) => resultOf(jobs[index]!, exit)))
      )
    )
}
