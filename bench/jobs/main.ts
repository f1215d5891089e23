/**
 * `pnpm bench jobs`: enqueue→handler-start latency and throughput of NestFleet's job queue
 * (JobQueue.send + JobWorker, Effect programs with decoding and spans) next to bare pg-boss
 * built with the very same settings, on the same database, in alternating rounds.
 *
 * Database: a fresh database per measurement on the server at BENCH_DATABASE_URL (else
 * TEST_DATABASE_URL); with neither, the embedded database.
 */
import * as Database from "@nestfleet/db/Database"
import * as Sql from "@nestfleet/db/Sql"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { JobCatalogue } from "@nestfleet/jobs/Catalogue"
import * as JobDefinition from "@nestfleet/jobs/JobDefinition"
import { JobQueue, newQueueOptions } from "@nestfleet/jobs/JobQueue"
import { JobsConfig } from "@nestfleet/jobs/JobsConfig"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import * as PgBossFactory from "@nestfleet/jobs/PgBossFactory"
import { ConfigProvider, Deferred, Duration, Effect, Layer, Logger, LogLevel, Option, Redacted, Runtime, Schema, type Scope } from "effect"
import type { PgBoss } from "pg-boss"
import { median, now, percentile, printTable } from "../lib/Stats.js"

const settings = {
  /** Rounds that measure latency, and rounds that measure throughput (each on a fresh database). */
  latencyRounds: 2,
  throughputRounds: 10,
  latencyJobs: 1_000,
  latencyRatePerSecond: 200,
  backlogJobs: 20_000,
  concurrency: 4,
  batchSize: 8,
  pollingIntervalSeconds: 2
}

const Probe = Schema.Struct({ sentAt: Schema.Number, seq: Schema.Int })
type ProbeJob = JobDefinition.JobDefinition<string, typeof Probe.Type, typeof Probe.Encoded>

const job = (name: string): ProbeJob =>
  JobDefinition.make(name, {
    payload: Probe,
    worker: { concurrency: settings.concurrency, batchSize: settings.batchSize }
  })

const latencyJob = job("bench_latency")
const backlogJob = job("bench_backlog")

const config = Layer.setConfigProvider(
  ConfigProvider.fromMap(new Map([["JOBS_POLLING_INTERVAL_SECONDS", String(settings.pollingIntervalSeconds)]]))
)

/** Each measurement gets a database of its own, so none inherits another's rows or bloat. */
const freshDatabase = Option.match(
  // An admin URL: the benchmark creates a database of its own there for every measurement.
  Option.fromNullable(process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || undefined),
  {
    onNone: () => Database.layerEmbedded({ dataDir: Database.inMemory }),
    onSome: (adminUrl) =>
      Layer.unwrapScoped(
        Effect.map(
          TestDatabase.createServerDatabase(Redacted.make(adminUrl)),
          ({ url }) => Database.layerServer({ url, poolMax: 10 })
        )
      )
  }
)

/** Calls `send(i)` `count` times at a steady `ratePerSecond`. */
const paced = (send: (seq: number) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const start = now()
    for (let seq = 0; seq < settings.latencyJobs; seq++) {
      const wait = start + (seq * 1000) / settings.latencyRatePerSecond - now()
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      yield* send(seq)
    }
  })

/** Completes once `expected` marks have been recorded, with the time of the last one. */
const makeCounter = (expected: number) =>
  Effect.map(Deferred.make<number>(), (done) => {
    let count = 0
    return {
      done: Deferred.await(done),
      mark: () => {
        if (++count === expected) Deferred.unsafeDone(done, Effect.succeed(now()))
      }
    }
  })

const sampleTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/**
 * What a job row holds, for every subject: the envelope NestFleet's `send` writes (payload
 * and the enqueuer's trace context). Bare pg-boss gets the same rows, so both sides move the
 * same bytes and only the queue machinery differs.
 */
const envelope = (probe: typeof Probe.Type) => ({ payload: probe, traceparent: sampleTraceparent })

/** Loads the backlog (not measured), then lets the database settle its statistics. */
const insertBacklog = (boss: PgBoss, name: string, data: (seq: number) => object) =>
  Effect.gen(function*() {
    const { pool } = yield* Database.Database
    yield* Effect.promise(async () => {
      for (let from = 0; from < settings.backlogJobs; from += 1_000) {
        const size = Math.min(1_000, settings.backlogJobs - from)
        await boss.insert(name, Array.from({ length: size }, (_, i) => ({ data: data(from + i) })))
      }
      await pool.query("vacuum analyze")
    })
  })

interface Figures {
  readonly latencies: ReadonlyArray<number>
  readonly throughput: number | undefined
}

/** What one run of a subject measures. */
type Phase = "latency" | "throughput"

// ---- NestFleet: JobQueue.send and JobWorker.work, Effect programs ----

const nestFleet = (phase: Phase): Effect.Effect<Figures, unknown, Database.Database | JobQueue> =>
  Effect.gen(function*() {
  const queue = yield* JobQueue
  const latencies: Array<number> = []
  if (phase === "latency") {
    yield* Effect.scoped(Effect.gen(function*() {
      const counter = yield* makeCounter(settings.latencyJobs)
      yield* JobWorker.work(latencyJob, (probe) =>
        Effect.sync(() => {
          latencies.push(now() - probe.sentAt)
          counter.mark()
        }))
      yield* Effect.sleep("500 millis")
      yield* paced((seq) => queue.send(latencyJob, { sentAt: now(), seq }))
      yield* counter.done
    }))
    return { latencies, throughput: undefined }
  }
  yield* insertBacklog(queue.boss, backlogJob.name, (seq) => envelope({ sentAt: 0, seq }))
  const throughput = yield* Effect.scoped(Effect.gen(function*() {
    const counter = yield* makeCounter(settings.backlogJobs)
    const started = now()
    yield* JobWorker.work(backlogJob, () => Effect.sync(counter.mark))
    return settings.backlogJobs / ((yield* counter.done) - started) * 1000
  }))
  return { latencies, throughput }
})

const nestFleetLive = JobQueue.Default.pipe(
  Layer.provide(Layer.succeed(JobCatalogue, [latencyJob, backlogJob])),
  Layer.provideMerge(Sql.layer),
  Layer.provideMerge(freshDatabase)
)

// ---- bare pg-boss: the same construction (PgBossFactory) and work options ----

/**
 * How bare pg-boss settles a batch. `perJob` is what NestFleet's runner asks of pg-boss (a
 * result per job, so an undecodable payload can fail for good while the rest complete);
 * `batch` is pg-boss's default, completing the whole batch in one statement.
 */
type Settlement = "perJob" | "batch"

/**
 * What the handler does per job: nothing, or start one empty Effect fiber (the least a
 * handler written as an Effect program costs, before decoding, spans and context).
 */
type PerJob = "nothing" | "emptyFiber"

const runEmptyFiber = (jobs: ReadonlyArray<unknown>) =>
  new Promise<void>((resolve) => {
    let running = jobs.length
    for (let i = 0; i < jobs.length; i++) {
      Runtime.runCallback(Runtime.defaultRuntime)(Effect.void, { onExit: () => --running === 0 && resolve() })
    }
  })

const bareWork = (
  boss: PgBoss,
  definition: ProbeJob,
  jobsConfig: JobsConfig,
  settlement: Settlement,
  perJob: PerJob,
  handle: (probe: typeof Probe.Type) => void
) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      boss.work<ReturnType<typeof envelope>>(
        definition.name,
        { ...JobWorker.workOptions(definition, jobsConfig), perJobResults: settlement === "perJob" },
        async (jobs) => {
          if (perJob === "emptyFiber") await runEmptyFiber(jobs)
          for (const job of jobs) handle(job.data.payload)
          return settlement === "perJob" ? jobs.map((job) => ({ id: job.id, status: "completed" as const })) : undefined
        }
      )
    ),
    () => Effect.promise(() => boss.offWork(definition.name, { wait: true }))
  )

const bare = (
  phase: Phase,
  settlement: Settlement,
  perJob: PerJob = "nothing"
): Effect.Effect<Figures, unknown, Database.Database | Scope.Scope> =>
  Effect.gen(function*() {
    const database = yield* Database.Database
    const jobsConfig = yield* JobsConfig
    const boss = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const boss = PgBossFactory.make(database)
        boss.on("error", () => {})
        await boss.start()
        for (const definition of [latencyJob, backlogJob]) {
          await boss.createQueue(definition.name, newQueueOptions(definition))
        }
        return boss
      }),
      (boss) => Effect.promise(() => boss.stop({ graceful: true, close: true, timeout: 10_000 }))
    )
    const latencies: Array<number> = []
    if (phase === "latency") {
      yield* Effect.scoped(Effect.gen(function*() {
        const counter = yield* makeCounter(settings.latencyJobs)
        yield* bareWork(boss, latencyJob, jobsConfig, settlement, perJob, (probe) => {
          latencies.push(now() - probe.sentAt)
          counter.mark()
        })
        yield* Effect.sleep("500 millis")
        yield* paced((seq) => Effect.promise(() => boss.send(latencyJob.name, envelope({ sentAt: now(), seq }))))
        yield* counter.done
      }))
      return { latencies, throughput: undefined }
    }
    yield* insertBacklog(boss, backlogJob.name, (seq) => envelope({ sentAt: 0, seq }))
    const throughput = yield* Effect.scoped(Effect.gen(function*() {
      const counter = yield* makeCounter(settings.backlogJobs)
      const started = now()
      yield* bareWork(boss, backlogJob, jobsConfig, settlement, perJob, counter.mark)
      return settings.backlogJobs / ((yield* counter.done) - started) * 1000
    }))
    return { latencies, throughput }
  })

const describeDatabase = Effect.gen(function*() {
  const { backend, pool } = yield* Database.Database
  const { rows } = yield* Effect.promise(() => pool.query("select current_setting('server_version') as version"))
  return `${backend._tag === "Server" ? "PostgreSQL server" : "embedded PGlite"} ${rows[0]?.version ?? ""}`
}).pipe(Effect.provide(freshDatabase))

const subjects = [
  { name: "NestFleet", run: (phase: Phase) => Effect.provide(nestFleet(phase), nestFleetLive) },
  { name: "pg-boss, same options", run: (phase: Phase) => Effect.provide(Effect.scoped(bare(phase, "perJob")), freshDatabase) },
  {
    name: "pg-boss, batch completion",
    run: (phase: Phase) => Effect.provide(Effect.scoped(bare(phase, "batch")), freshDatabase)
  },
  {
    name: "pg-boss + empty fiber",
    run: (phase: Phase) => Effect.provide(Effect.scoped(bare(phase, "perJob", "emptyFiber")), freshDatabase)
  }
] as const

/** `rounds` rounds of every subject, the order rotating each round; what each subject measured, per round. */
const rounds = (phase: Phase, count: number, report: (round: number, figures: ReadonlyArray<Figures>) => void) =>
  Effect.gen(function*() {
    const figures = subjects.map(() => [] as Array<Figures>)
    for (let round = 0; round < count; round++) {
      for (let turn = 0; turn < subjects.length; turn++) {
        const index = (round + turn) % subjects.length
        figures[index]!.push(yield* subjects[index]!.run(phase))
      }
      report(round, figures.map((perSubject) => perSubject[round]!))
    }
    return figures
  })

const program = Effect.gen(function*() {
  process.stdout.write(
    `jobs benchmark on ${yield* describeDatabase}\n` +
      `  every measurement on a fresh database, the order of the subjects rotating each round\n` +
      `  latency (${settings.latencyRounds} rounds): ${settings.latencyJobs} jobs sent one by one at ` +
      `${settings.latencyRatePerSecond}/s to an idle worker\n` +
      `  throughput (${settings.throughputRounds} rounds): a ${settings.backlogJobs}-job backlog drained by ` +
      `${settings.concurrency} fetch loops × batches of ${settings.batchSize}; LISTEN/NOTIFY on; polling every ` +
      `${settings.pollingIntervalSeconds} s\n` +
      `  "same options": bare pg-boss with NestFleet's work options, results per job included; ` +
      `"batch completion": pg-boss's default settlement; "+ empty fiber": same options, and the handler starts ` +
      `one empty Effect fiber per job (the floor for any Effect handler)\n`
  )
  // A first round, not counted, so that no subject pays for compiling the code it shares
  // with the others (pg, pg-boss) just because it happens to go first.
  for (const subject of subjects) yield* subject.run("throughput")
  process.stdout.write("  warm-up round done\n")
  const latency = yield* rounds("latency", settings.latencyRounds, (round) =>
    process.stdout.write(`  latency round ${round + 1} done\n`))
  const throughput = yield* rounds("throughput", settings.throughputRounds, (round, figures) =>
    process.stdout.write(
      `  throughput round ${round + 1}: ` +
        subjects.map((subject, index) => `${subject.name} ${figures[index]!.throughput!.toFixed(0)} jobs/s`).join(", ") +
        "\n"
    ))
  const ms = (value: number) => value.toFixed(1)
  const latencies = latency.map((perSubject) => perSubject.flatMap((figures) => figures.latencies))
  const rates = throughput.map((perSubject) => perSubject.map((figures) => figures.throughput!))
  // Each round measures every subject back to back, so a round's ratio is less exposed to the
  // machine's drift than the ratio of medians; the median of those ratios is what is judged.
  const roundRatios = (index: number) => rates[0]!.map((ours, round) => ours / rates[index]![round]!)
  const pairedRatio = (index: number) => median(roundRatios(index))
  const ratio = (index: number) => `${(100 * pairedRatio(index)).toFixed(1)}%`
  const range = (index: number) => {
    const sorted = roundRatios(index).sort((a, b) => a - b)
    return `${(100 * sorted[0]!).toFixed(0)}–${(100 * sorted.at(-1)!).toFixed(0)}%`
  }
  printTable([
    ["", ...subjects.map((subject) => subject.name)],
    ["enqueue→start p50 (ms)", ...latencies.map((values) => ms(percentile([...values], 50)))],
    ["enqueue→start p99 (ms)", ...latencies.map((values) => ms(percentile([...values], 99)))],
    ["throughput, median (jobs/s)", ...rates.map((values) => median(values).toFixed(0))],
    ["NestFleet / subject, median of rounds", "100%", ratio(1), ratio(2), ratio(3)],
    ["NestFleet / subject, range of rounds", "", range(1), range(2), range(3)]
  ])
  const p50 = percentile([...latencies[0]!], 50)
  process.stdout.write(
    `targets: p50 under 100 ms: ${p50 < 100 ? "met" : "MISSED"} (${ms(p50)} ms); ` +
      `throughput within 10% of bare pg-boss with the same settings: ` +
      `${pairedRatio(1) >= 0.9 ? "met" : "MISSED"} (${ratio(1)})\n` +
      // Settling each job with its own outcome is a setting NestFleet needs (a bad payload is
      // dead-lettered while the rest of its batch completes); what it costs is pg-boss's own.
      `  for information: ${ratio(2)} of pg-boss settling whole batches, which itself runs at ` +
      `${(100 * median(rates[1]!.map((perJob, round) => perJob / rates[2]![round]!))).toFixed(1)}% of that ` +
      `once it settles each job\n`
  )
}).pipe(
  Effect.provide(config),
  Effect.provide(Logger.minimumLogLevel(LogLevel.Warning))
)

await Effect.runPromise(program)
