import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import {
  ConfigProvider,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  HashMap,
  Layer,
  List,
  Logger,
  Option,
  Queue,
  Ref,
  Schedule,
  Schema,
  Scope,
  type Tracer
} from "effect"
import { JobCatalogue } from "../src/Catalogue.js"
import { CurrentJob } from "../src/CurrentJob.js"
import * as JobDefinition from "../src/JobDefinition.js"
import { JobQueue } from "../src/JobQueue.js"
import * as JobWorker from "../src/JobWorker.js"

const Greeting = Schema.Struct({ name: Schema.NonEmptyString, times: Schema.Int })

const noRetryDelay = { retryDelaySeconds: 0, backoff: false, retryLimit: 2 }
const jobs = {
  transactional: JobDefinition.make("test_transactional", { payload: Greeting }),
  invalid: JobDefinition.make("test_invalid", { payload: Greeting, retry: { ...noRetryDelay, retryLimit: 3 } }),
  flaky: JobDefinition.make("test_flaky", { payload: Greeting, retry: noRetryDelay }),
  traced: JobDefinition.make("test_traced", { payload: Greeting }),
  crashing: JobDefinition.make("test_crashing", { payload: Greeting, retry: { ...noRetryDelay, retryLimit: 0 } }),
  wake: JobDefinition.make("test_wake", { payload: Greeting }),
  wakeFromSender: JobDefinition.make("test_wake_from_sender", { payload: Greeting }),
  delayedRetry: JobDefinition.make("test_delayed_retry", {
    payload: Greeting,
    retry: { retryDelaySeconds: 1, backoff: false, retryLimit: 1 }
  }),
  slow: JobDefinition.make("test_slow", { payload: Greeting }),
  lost: JobDefinition.make("test_lost", {
    payload: Greeting,
    retry: { ...noRetryDelay, retryLimit: 0, heartbeatSeconds: 10 },
    deadLetter: JobDefinition.make("test_lost_wound_up", { payload: Greeting, retry: noRetryDelay })
  }),
  woundUp: JobDefinition.make("test_lost_wound_up", { payload: Greeting, retry: noRetryDelay }),
  stuck: JobDefinition.make("test_stuck", { payload: Greeting, retry: { retryDelaySeconds: 60 } }),
  // No worker takes it: the test starts and fails it by hand.
  waiting: JobDefinition.make("test_waiting", { payload: Greeting, retry: { ...noRetryDelay, retryLimit: 1 } })
}

// A long poll interval: a worker that picks a job up quickly was woken by NOTIFY.
const pollingIntervalSeconds = 30
const shutdownTimeoutSeconds = 2

const TestLayer = JobQueue.Default.pipe(
  Layer.provideMerge(TestDatabase.layer),
  Layer.provide(Layer.succeed(JobCatalogue, Object.values(jobs))),
  Layer.provide(
    Layer.setConfigProvider(
      ConfigProvider.fromMap(
        new Map([
          ["JOBS_POLLING_INTERVAL_SECONDS", String(pollingIntervalSeconds)],
          ["SHUTDOWN_TIMEOUT", `${shutdownTimeoutSeconds} seconds`]
        ])
      )
    )
  )
)

class TransientFailure extends Data.TaggedError("TransientFailure")<{ readonly message: string }> {}

const findJobs = (name: string) =>
  Effect.flatMap(JobQueue, ({ boss }) => Effect.promise(() => boss.findJobs<unknown>(name)))

/** Retries `check` until it passes or `within` elapses. */
const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, within: Duration.DurationInput = "10 seconds") =>
  check.pipe(
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo(within)))
  )

const expectState = (name: string, state: string) =>
  eventually(Effect.flatMap(findJobs(name), (found) =>
    found.length === 1 && found[0]!.state === state
      ? Effect.succeed(found[0]!)
      : Effect.fail(`expected one ${state} job, found ${found.map((job) => job.state).join(", ") || "none"}`)))

layer(TestLayer, { excludeTestServices: true, timeout: 120_000 })("JobQueue and JobWorker", (it) => {
  it.effect("send joins the caller's transaction: rolled back, no job; committed, one job", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const queue = yield* JobQueue
      const rolledBack = yield* sql.withTransaction(
        Effect.zipRight(
          queue.send(jobs.transactional, { name: "rolled back", times: 1 }),
          Effect.fail("abort" as const)
        )
      ).pipe(Effect.flip)
      expect(rolledBack).toBe("abort")
      expect(yield* findJobs(jobs.transactional.name)).toEqual([])

      const id = yield* sql.withTransaction(queue.send(jobs.transactional, { name: "committed", times: 1 }))
      const found = yield* findJobs(jobs.transactional.name)
      expect(found.map((job) => job.id)).toEqual([Option.getOrThrow(id)])
      expect(found[0]!.data).toMatchObject({ payload: { name: "committed", times: 1 } })
    }))

  it.effect("findWaiting finds a key's job while it waits to start or to be retried, and no longer once started or failed", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const queue = yield* JobQueue
      const { boss } = queue
      const name = jobs.waiting.name
      const waiting = (key: string) => Effect.map(queue.findWaiting(jobs.waiting, key), Option.map((job) => job.id))
      const fetched = Effect.promise(() => boss.fetch(name, { batchSize: 10 })).pipe(Effect.map((found) => found.map((job) => job.id)))

      expect(yield* waiting("case-1")).toEqual(Option.none())
      const id = Option.getOrThrow(yield* queue.send(jobs.waiting, { name: "one", times: 1 }, { singletonKey: "case-1" }))
      yield* queue.send(jobs.waiting, { name: "keyless", times: 1 })
      expect(yield* waiting("case-1")).toEqual(Option.some(id))
      expect(yield* waiting("case-2")).toEqual(Option.none())

      // Asked in a transaction, it sees what the transaction sent (on the embedded database's one connection too).
      const inTransaction = yield* sql.withTransaction(Effect.gen(function*() {
        const sent = yield* queue.send(jobs.waiting, { name: "two", times: 1 }, { singletonKey: "case-2" })
        return [sent, yield* waiting("case-2")] as const
      }))
      expect(inTransaction[1]).toEqual(inTransaction[0])

      expect(yield* fetched).toHaveLength(3)
      expect(yield* waiting("case-1")).toEqual(Option.none())
      yield* Effect.promise(() => boss.fail(name, id, { message: "try again" }))
      expect(yield* waiting("case-1")).toEqual(Option.some(id))
      expect(yield* fetched).toEqual([id])
      yield* Effect.promise(() => boss.fail(name, id, { message: "for good" }))
      expect((yield* Effect.promise(() => boss.findJobs(name, { id }))).map((job) => job.state)).toEqual(["failed"])
      expect(yield* waiting("case-1")).toEqual(Option.none())
    }))

  it.scoped("an undecodable payload fails the job for good, with the reason, without retries", () =>
    Effect.gen(function*() {
      const handled = yield* Ref.make(0)
      yield* JobWorker.work(jobs.invalid, () => Ref.update(handled, (n) => n + 1))
      const { boss } = yield* JobQueue
      yield* Effect.promise(() => boss.send(jobs.invalid.name, { payload: { name: "", times: 1.5 } }))
      const failed = yield* expectState(jobs.invalid.name, "failed")
      expect(failed.retryCount).toBe(0)
      expect(failed.output).toMatchObject({ error: "InvalidPayload" })
      expect(JSON.stringify(failed.output)).toContain("times")

      // Data sent without our envelope (by hand, or by another producer) fails the same way.
      const bare = yield* Effect.promise(() => boss.send(jobs.invalid.name, { name: "bare", times: 1 }))
      const unwrapped = yield* eventually(Effect.flatMap(findJobs(jobs.invalid.name), (found) => {
        const job = found.find((candidate) => candidate.id === bare)
        return job?.state === "failed" ? Effect.succeed(job) : Effect.fail(`job ${bare} is ${job?.state ?? "missing"}`)
      }))
      expect(unwrapped.output).toMatchObject({ error: "InvalidPayload", message: expect.stringContaining("not a job envelope") })
      expect(yield* Ref.get(handled)).toBe(0)
    }))

  it.scoped("a typed failure is retried per the policy, then the job succeeds", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(List.empty<number>())
      yield* JobWorker.work(jobs.flaky, () =>
        Effect.gen(function*() {
          const job = yield* CurrentJob
          yield* Ref.update(attempts, List.prepend(job.attempt))
          if (job.attempt === 1) return yield* new TransientFailure({ message: "try again" })
        }))
      const queue = yield* JobQueue
      yield* queue.send(jobs.flaky, { name: "flaky", times: 1 })
      const completed = yield* expectState(jobs.flaky.name, "completed")
      expect(completed.retryCount).toBe(1)
      expect(List.toArray(yield* Ref.get(attempts)).reverse()).toEqual([1, 2])
    }), { timeout: 90_000 })

  it.scoped("the handler's span continues the enqueuer's trace, and is ended with the attempt's outcome", () =>
    Effect.gen(function*() {
      const seen = yield* Deferred.make<Tracer.Span>()
      yield* JobWorker.work(jobs.traced, () => Effect.flatMap(Effect.currentSpan, (span) => Deferred.succeed(seen, span)))
      const queue = yield* JobQueue
      const [id, enqueuer] = yield* Effect.gen(function*() {
        const id = yield* queue.send(jobs.traced, { name: "traced", times: 1 })
        return [Option.getOrThrow(id), yield* Effect.currentSpan] as const
      }).pipe(Effect.withSpan("test enqueuer"))
      const span = yield* Deferred.await(seen).pipe(Effect.timeout("10 seconds"))
      expect(span.name).toBe("job test_traced")
      expect(span.kind).toBe("consumer")
      expect(span.traceId).toBe(enqueuer.traceId)
      const parent = Option.getOrThrow(span.parent)
      expect(parent.traceId).toBe(enqueuer.traceId)
      expect(parent.spanId).not.toBe(enqueuer.spanId) // the parent is the JobQueue.send span
      expect(span.attributes.get("job.id")).toBe(id)
      expect(span.attributes.get("job.attempt")).toBe(1)
      yield* expectState(jobs.traced.name, "completed")
      expect(span.status._tag).toBe("Ended")
      if (span.status._tag === "Ended") expect(Exit.isSuccess(span.status.exit)).toBe(true)
    }))

  it.scoped("a defect is logged with the job id and fails the job", () =>
    Effect.gen(function*() {
      const logs = yield* Queue.unbounded<{ readonly message: unknown; readonly level: string; readonly jobId: unknown }>()
      const capture = Logger.make(({ annotations, logLevel, message }) => {
        Queue.unsafeOffer(logs, {
          message,
          level: logLevel.label,
          jobId: Option.getOrUndefined(HashMap.get(annotations, "jobId"))
        })
      })
      yield* JobWorker.work(jobs.crashing, () => Effect.die(new Error("boom"))).pipe(
        Effect.provide(Logger.add(capture))
      )
      const queue = yield* JobQueue
      const id = Option.getOrThrow(yield* queue.send(jobs.crashing, { name: "crash", times: 1 }))
      yield* expectState(jobs.crashing.name, "failed")
      const entries = yield* Queue.takeAll(logs)
      const crash = [...entries].find((entry) => entry.level === "ERROR")
      expect(crash).toMatchObject({ message: ["Job handler crashed"], jobId: id })
    }))

  it.scoped("a job that failed for good, here by crashing on its last attempt, goes to its dead letter job's queue as it was sent", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const made = yield* Effect.promise(() => queue.boss.getQueue(jobs.lost.name))
      expect(made).toMatchObject({ deadLetter: jobs.woundUp.name, heartbeatSeconds: 10, retryLimit: 0 })
      yield* JobWorker.work(jobs.lost, () => Effect.die(new Error("boom")))
      yield* queue.send(jobs.lost, { name: "lost", times: 2 })
      yield* expectState(jobs.lost.name, "failed")
      const woundUp = yield* expectState(jobs.woundUp.name, "created")
      expect(woundUp.data).toMatchObject({ payload: { name: "lost", times: 2 } })
    }))

  it("a job's heartbeat is at least 10 seconds; a dead letter job has none of its own and retries without backoff", () => {
    expect(() => JobDefinition.make("test_short_heartbeat", { payload: Greeting, retry: { heartbeatSeconds: 5 } })).toThrow(
      /heartbeatSeconds/
    )
    expect(() => JobDefinition.make("test_chained", { payload: Greeting, deadLetter: jobs.lost })).toThrow(/dead letter/)
    const backingOff = JobDefinition.make("test_backing_off", { payload: Greeting })
    expect(() => JobDefinition.make("test_uncapped", { payload: Greeting, deadLetter: backingOff })).toThrow(/without backoff/)
  })

  it.scoped("a new job wakes an idle worker through LISTEN/NOTIFY, well before the next poll", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<number>()
      yield* JobWorker.work(jobs.wake, () => Effect.flatMap(Effect.sync(() => Date.now()), (now) => Deferred.succeed(started, now)))
      // Let the worker finish its first (empty) fetch and go idle.
      yield* Effect.sleep("1 second")
      const queue = yield* JobQueue
      const sentAt = Date.now()
      yield* queue.send(jobs.wake, { name: "wake", times: 1 })
      const startedAt = yield* Deferred.await(started).pipe(Effect.timeout("5 seconds"))
      expect(startedAt - sentAt).toBeLessThan(2_000)
      expect(pollingIntervalSeconds * 1000).toBeGreaterThan(10 * (startedAt - sentAt))
    }))

  it.scoped("a send-only queue does not LISTEN, and what it sends still wakes a worker elsewhere at once", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const listeners = sql<{ count: number }>`
        select count(*)::int as count from pg_stat_activity
        where datname = current_database() and query ilike 'LISTEN %'`.pipe(Effect.map(([row]) => row!.count))
      const before = yield* listeners
      const sender = yield* Layer.build(JobQueue.SendOnly.pipe(Layer.provide(Layer.succeed(JobCatalogue, Object.values(jobs)))))
        .pipe(Effect.map(Context.get(JobQueue)))
      if (TestDatabase.mode === "server") {
        expect(before).toBe(1) // the worker's queue
        expect(yield* listeners).toBe(before)
      }
      const started = yield* Deferred.make<number>()
      yield* JobWorker.work(jobs.wakeFromSender, () => Effect.flatMap(Effect.sync(() => Date.now()), (now) => Deferred.succeed(started, now)))
      yield* Effect.sleep("1 second")
      const sentAt = Date.now()
      yield* sender.send(jobs.wakeFromSender, { name: "from the API", times: 1 })
      const startedAt = yield* Deferred.await(started).pipe(Effect.timeout("5 seconds"))
      expect(startedAt - sentAt).toBeLessThan(2_000)
    }))

  it.scoped("a retry after a delay runs when the delay is over, not at the next poll", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(List.empty<number>())
      yield* JobWorker.work(jobs.delayedRetry, () =>
        Effect.gen(function*() {
          yield* Ref.update(attempts, List.prepend(Date.now()))
          if ((yield* CurrentJob).attempt === 1) return yield* new TransientFailure({ message: "later" })
        }))
      const queue = yield* JobQueue
      yield* queue.send(jobs.delayedRetry, { name: "delayed", times: 1 })
      yield* expectState(jobs.delayedRetry.name, "completed")
      const [second, first] = List.toArray(yield* Ref.get(attempts))
      // One second of retry delay; well under the 30 s poll interval.
      expect(second! - first!).toBeGreaterThanOrEqual(900)
      expect(second! - first!).toBeLessThan(5_000)
    }))

  it.effect("stopping a worker lets the job it is running finish", () =>
    Effect.gen(function*() {
      const workerScope = yield* Scope.make()
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* JobWorker.work(jobs.slow, () =>
        Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(release))).pipe(Scope.extend(workerScope))
      const queue = yield* JobQueue
      yield* queue.send(jobs.slow, { name: "slow", times: 1 })
      yield* Deferred.await(started).pipe(Effect.timeout("10 seconds"))

      const stopping = yield* Effect.fork(Scope.close(workerScope, Exit.void))
      yield* Effect.sleep("300 millis")
      expect(Option.isNone(yield* Fiber.poll(stopping))).toBe(true) // still waiting for the job
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(stopping)
      const [job] = yield* findJobs(jobs.slow.name)
      expect(job?.state).toBe("completed")
    }))

  it.effect("a job still running at the shutdown timeout is interrupted, and left for a retry", () =>
    Effect.gen(function*() {
      const workerScope = yield* Scope.make()
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      yield* JobWorker.work(jobs.stuck, () =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
        )).pipe(Scope.extend(workerScope))
      const queue = yield* JobQueue
      yield* queue.send(jobs.stuck, { name: "stuck", times: 1 })
      yield* Deferred.await(started).pipe(Effect.timeout("10 seconds"))

      const stopStarted = Date.now()
      yield* Scope.close(workerScope, Exit.void).pipe(Effect.timeout("20 seconds"))
      const stopTook = Date.now() - stopStarted
      expect(stopTook).toBeGreaterThanOrEqual(shutdownTimeoutSeconds * 1000 - 100)
      expect(stopTook).toBeLessThan(shutdownTimeoutSeconds * 1000 + 5_000)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
      const retry = yield* expectState(jobs.stuck.name, "retry")
      expect(retry.output).toMatchObject({ error: "Interrupted" })
    }))
})
