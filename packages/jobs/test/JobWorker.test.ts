/**
 * The runner alone, on jobs made in memory as pg-boss hands them over: what each outcome of
 * a handler becomes, the span and CurrentJob a handler sees, and how a running job is
 * interrupted. JobQueue.test runs the same runner against pg-boss and a database.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Context, Data, Deferred, Effect, Exit, Fiber, FiberSet, HashMap, Logger, Option, Ref, Schema, type Tracer } from "effect"
import type { Job, JobResult } from "pg-boss"
import { CurrentJob } from "../src/CurrentJob.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobWorker from "../src/JobWorker.js"

const Greeting = Schema.Struct({ name: Schema.NonEmptyString })
type Greeting = typeof Greeting.Type

// Three attempts, the retry available 5 s after a failure.
const greet = JobDefinition.make("test_greet", {
  payload: Greeting,
  retry: { retryLimit: 2, retryDelaySeconds: 5, backoff: false }
})

class TransientFailure extends Data.TaggedError("TransientFailure")<{ readonly message: string }> {}

const enqueuer = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" }
const traceparent = `00-${enqueuer.traceId}-${enqueuer.spanId}-01`

let lastId = 0

/** A job as pg-boss hands it over, with its own signal for the test to abort (as a lost claim does). */
const makeJob = (data: unknown, options: { readonly retryCount?: number } = {}) => {
  const claim = new AbortController()
  const job: Job<unknown> = {
    id: `job-${++lastId}`,
    name: greet.name,
    data,
    expireInSeconds: 900,
    heartbeatSeconds: null,
    retryCount: options.retryCount ?? 0,
    signal: claim.signal
  }
  return Object.assign(job, { abort: () => claim.abort() })
}

const greeting = (name: string, options: { readonly retryCount?: number } = {}) =>
  makeJob({ payload: { name }, traceparent }, options)

interface LogLine {
  readonly message: unknown
  readonly level: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A runner over a FiberSet of the test's scope; what it asked to be woken for, and what it logged. */
const makeRunner = <E, R>(handler: JobWorker.Handler<Greeting, E, R>) =>
  Effect.gen(function*() {
    const wakeIns: Array<number> = []
    const logs: Array<LogLine> = []
    const logger = Logger.make(({ annotations, logLevel, message }) => {
      logs.push({ message, level: logLevel.label, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
    })
    const running = yield* FiberSet.make<JobResult>()
    const runBatch = yield* JobWorker.makeRunner({
      definition: greet,
      handler,
      running,
      wakeIn: (seconds) => wakeIns.push(seconds)
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return {
      run: (jobs: ReadonlyArray<Job<unknown>>) => Effect.promise(() => runBatch(jobs)),
      running,
      wakeIns,
      logs
    }
  })

describe("JobWorker.makeRunner", () => {
  it.scoped("runs a batch's jobs side by side and answers a result per job, in the batch's order", () =>
    Effect.gen(function*() {
      const secondStarted = yield* Deferred.make<void>()
      // The first job waits for the second: run one after the other, the batch would never end.
      const runner = yield* makeRunner(({ name }) =>
        name === "first" ? Deferred.await(secondStarted) : Deferred.succeed(secondStarted, undefined)
      )
      const first = greeting("first")
      const second = greeting("second")
      expect(yield* runner.run([first, second])).toEqual([
        { id: first.id, status: "completed" },
        { id: second.id, status: "completed" }
      ])
      expect(runner.wakeIns).toEqual([])
    }))

  it.scoped("a payload that does not decode is dead-lettered with the reason, and its handler never runs", () =>
    Effect.gen(function*() {
      const handled = yield* Ref.make(0)
      const runner = yield* makeRunner(() => Ref.update(handled, (n) => n + 1))
      const undecodable = makeJob({ payload: { name: "" } })
      const bare = makeJob({ name: "no envelope" })
      const [first, second] = yield* runner.run([undecodable, bare])
      expect(first).toMatchObject({ id: undecodable.id, status: "deadletter", output: { error: "InvalidPayload" } })
      expect(first!.output.message).toContain("name")
      expect(second).toMatchObject({
        id: bare.id,
        status: "deadletter",
        output: { error: "InvalidPayload", message: expect.stringContaining("not a job envelope") }
      })
      expect(yield* Ref.get(handled)).toBe(0)
      expect(runner.wakeIns).toEqual([])
      expect(runner.logs.map((line) => [line.level, line.annotations.jobId])).toEqual([
        ["WARN", undecodable.id],
        ["WARN", bare.id]
      ])
    }))

  it.scoped("a typed failure fails the attempt with its tag and message, and wakes the loop when the retry is due", () =>
    Effect.gen(function*() {
      const runner = yield* makeRunner(() => new TransientFailure({ message: "try again" }))
      const firstAttempt = greeting("flaky")
      const lastAttempt = greeting("flaky", { retryCount: 2 })
      expect(yield* runner.run([firstAttempt, lastAttempt])).toEqual([
        { id: firstAttempt.id, status: "failed", output: { error: "TransientFailure", message: "try again" } },
        { id: lastAttempt.id, status: "failed", output: { error: "TransientFailure", message: "try again" } }
      ])
      // Only the first attempt has a retry to wait for.
      expect(runner.wakeIns).toEqual([5])
      expect(runner.logs.map((line) => [line.message, line.annotations.jobId, line.annotations.attempt])).toEqual([
        [["Job attempt failed; it will be retried"], firstAttempt.id, 1],
        [["Job failed on its last attempt"], lastAttempt.id, 3]
      ])
    }))

  it.scoped("a defect is logged as an error with the job's id and name, and the attempt is retried", () =>
    Effect.gen(function*() {
      const runner = yield* makeRunner(() => Effect.die(new Error("boom")))
      const job = greeting("crash")
      expect(yield* runner.run([job])).toEqual([
        { id: job.id, status: "failed", output: { error: "Defect", message: "The handler crashed; see logs" } }
      ])
      expect(runner.wakeIns).toEqual([5])
      expect(runner.logs).toMatchObject([
        { level: "ERROR", message: ["Job handler crashed"], annotations: { jobId: job.id, job: greet.name } }
      ])
    }))

  it.scoped("the handler's logs carry the job's id and name", () =>
    Effect.gen(function*() {
      const runner = yield* makeRunner(({ name }) => Effect.log(`hello ${name}`))
      const job = greeting("logs")
      yield* runner.run([job])
      expect(runner.logs).toMatchObject([{ message: ["hello logs"], annotations: { jobId: job.id, job: greet.name } }])
    }))

  it.scoped("the handler runs in a span that continues the enqueuer's trace, ended with the attempt's exit, and sees its CurrentJob", () =>
    Effect.gen(function*() {
      const seen: Array<{ readonly span: Tracer.Span; readonly current: Context.Tag.Service<typeof CurrentJob> }> = []
      const runner = yield* makeRunner(({ name }) =>
        Effect.gen(function*() {
          seen.push({ span: yield* Effect.currentSpan, current: yield* CurrentJob })
          if (name === "failing") return yield* new TransientFailure({ message: "no" })
        })
      )
      const succeeding = greeting("succeeding", { retryCount: 1 })
      const failing = greeting("failing")
      yield* runner.run([succeeding, failing])

      const [first, second] = seen
      expect(first!.current).toEqual({ id: succeeding.id, name: greet.name, attempt: 2, maxAttempts: 3 })
      expect(first!.span.name).toBe("job test_greet")
      expect(first!.span.kind).toBe("consumer")
      expect(first!.span.traceId).toBe(enqueuer.traceId)
      expect(Option.map(first!.span.parent, (parent) => parent.spanId)).toEqual(Option.some(enqueuer.spanId))
      expect(Object.fromEntries(first!.span.attributes)).toMatchObject({
        "job.id": succeeding.id,
        "job.name": greet.name,
        "job.attempt": 2
      })
      expect(first!.span.status._tag === "Ended" && Exit.isSuccess(first!.span.status.exit)).toBe(true)

      expect(second!.current.id).toBe(failing.id)
      expect(second!.span.status._tag === "Ended" && Exit.isFailure(second!.span.status.exit)).toBe(true)
    }))

  it.scoped("a job sent outside any span starts a trace of its own, whatever span the worker runs in", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const runner = yield* makeRunner(() => Effect.map(Effect.currentSpan, (span) => void spans.push(span))).pipe(
        Effect.withSpan("worker start")
      )
      yield* runner.run([makeJob({ payload: { name: "untraced" } })])
      expect(spans).toHaveLength(1)
      expect(spans[0]!.parent).toEqual(Option.none())
    }))

  it.scoped("pg-boss aborting a job's signal interrupts that job alone; it fails as interrupted and is retried", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const spans: Array<Tracer.Span> = []
      const runner = yield* makeRunner(({ name }) =>
        name === "stuck"
          ? Effect.currentSpan.pipe(
            Effect.tap((span) => spans.push(span)),
            Effect.zipRight(Deferred.succeed(started, undefined)),
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
          : Deferred.await(release)
      )
      const stuck = greeting("stuck")
      const waiting = greeting("waiting")
      const batch = yield* Effect.fork(runner.run([stuck, waiting]))
      yield* Deferred.await(started)
      stuck.abort()
      yield* Deferred.await(interrupted)
      yield* Deferred.succeed(release, undefined)
      expect(yield* Fiber.join(batch)).toEqual([
        {
          id: stuck.id,
          status: "failed",
          output: { error: "Interrupted", message: "The attempt was stopped before it finished" }
        },
        { id: waiting.id, status: "completed" }
      ])
      expect(runner.wakeIns).toEqual([5])
      expect(spans[0]!.status._tag === "Ended" && Exit.isInterrupted(spans[0]!.status.exit)).toBe(true)
      expect(runner.logs).toMatchObject([
        { level: "WARN", message: ["Job attempt interrupted; it will be retried"], annotations: { jobId: stuck.id } }
      ])
    }))

  it.scoped("interrupting the worker's running jobs (a stop past its timeout) fails them as interrupted", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const runner = yield* makeRunner(() => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
      const job = greeting("stuck")
      const batch = yield* Effect.fork(runner.run([job]))
      yield* Deferred.await(started)
      yield* FiberSet.clear(runner.running)
      expect(yield* Fiber.join(batch)).toMatchObject([{ id: job.id, status: "failed", output: { error: "Interrupted" } }])
    }))

  // Live clock: a job that cannot be interrupted finishes its two seconds and completes.
  it.scopedLive("jobs are interruptible even when the runner was made where interruption was off (a worker's acquire)", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const runner = yield* Effect.uninterruptible(
        makeRunner(() => Effect.zipRight(Deferred.succeed(started, undefined), Effect.sleep("2 seconds")))
      )
      const job = greeting("stuck")
      const batch = yield* Effect.fork(runner.run([job]))
      yield* Deferred.await(started)
      job.abort()
      expect(yield* Fiber.join(batch)).toMatchObject([{ id: job.id, status: "failed", output: { error: "Interrupted" } }])
    }))
})
