/**
 * `npx tsx bench/jobs/runner.ts`: the job runner alone, without a database — the CPU time a
 * job costs in `JobWorker.makeRunner`, next to the same jobs run by the plain-Effect form of
 * the runner (PlainRunner) and by one empty Effect fiber a job (the floor for any Effect
 * handler). CPU time rather than wall time, and the subjects in rotating rounds, so that
 * other work on the machine disturbs the comparison less than it does `pnpm bench jobs`.
 *
 * The jobs are what pg-boss hands a handler in the throughput measurement of
 * `pnpm bench jobs`: batches of 8 from 4 fetch loops, each job with its own signal linked to
 * its batch's, the payload in an envelope with a trace context, a handler that returns at once.
 */
import * as JobDefinition from "@nestfleet/jobs/JobDefinition"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { Effect, FiberSet, Logger, LogLevel, Runtime, Schema, type Scope } from "effect"
import type { Job, JobResult } from "pg-boss"
import { median, printTable } from "../lib/Stats.js"
import * as PlainRunner from "./PlainRunner.js"

const settings = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 7),
  jobsPerRound: 30_000,
  loops: 4,
  batchSize: 8
}

const Probe = Schema.Struct({ sentAt: Schema.Number, seq: Schema.Int })
const definition = JobDefinition.make("bench_runner", { payload: Probe })
const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/** A batch as pg-boss hands it over: each job's signal linked to its batch's and to its own claim. */
const makeBatch = (from: number): Array<Job<unknown>> => {
  const batch = new AbortController()
  return Array.from({ length: settings.batchSize }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(from + i).padStart(12, "0")}`,
    name: definition.name,
    data: { payload: { sentAt: 0, seq: from + i }, traceparent },
    expireInSeconds: 900,
    heartbeatSeconds: null,
    retryCount: 0,
    signal: AbortSignal.any([batch.signal, new AbortController().signal])
  }))
}

type RunBatch = (jobs: ReadonlyArray<Job<unknown>>) => Promise<Array<JobResult>>

let handled = 0
const handler = () => Effect.sync(() => void handled++)

const subjects: ReadonlyArray<{ readonly name: string; readonly make: Effect.Effect<RunBatch, never, Scope.Scope> }> = [
  {
    name: "JobWorker",
    make: Effect.gen(function*() {
      const running = yield* FiberSet.make<JobResult>()
      return yield* JobWorker.makeRunner({ definition, handler, running, wakeIn: () => {} })
    })
  },
  {
    name: "plain Effect",
    make: Effect.gen(function*() {
      const running = yield* FiberSet.make<JobResult>()
      const runBatch = PlainRunner.makeRunner({ definition, handler, running, wakeIn: () => {} })
      const runPromise = Runtime.runPromise(yield* Effect.runtime<never>())
      return (jobs: ReadonlyArray<Job<unknown>>) => runPromise(runBatch(jobs))
    })
  },
  {
    name: "empty fiber a job",
    make: Effect.succeed((jobs) =>
      new Promise((resolve) => {
        let running = jobs.length
        for (const _ of jobs) {
          Runtime.runCallback(Runtime.defaultRuntime)(Effect.void, {
            onExit: () => --running === 0 && resolve(jobs.map((job) => ({ id: job.id, status: "completed" })))
          })
        }
      })
    )
  }
]

/** Drains `jobsPerRound` jobs through `runBatch` from `loops` loops; the CPU time a job, in ns. */
const drain = async (runBatch: RunBatch) => {
  let next = 0
  const loop = async () => {
    while (next < settings.jobsPerRound) {
      const from = next
      next += settings.batchSize
      await runBatch(makeBatch(from))
    }
  }
  const before = process.cpuUsage()
  await Promise.all(Array.from({ length: settings.loops }, loop))
  const used = process.cpuUsage(before)
  return ((used.user + used.system) * 1000) / settings.jobsPerRound
}

const program = Effect.gen(function*() {
  process.stdout.write(
    `job runner benchmark: ${settings.jobsPerRound} jobs a round from ${settings.loops} loops × batches of ` +
      `${settings.batchSize}, ${settings.rounds} rounds, the order of the subjects rotating; CPU time a job\n`
  )
  const runners = yield* Effect.forEach(subjects, (subject) => subject.make)
  // A first round, not counted, so that no subject pays for compiling the code it shares.
  for (const runner of runners) yield* Effect.promise(() => drain(runner))
  const perJob = subjects.map(() => [] as Array<number>)
  for (let round = 0; round < settings.rounds; round++) {
    for (let turn = 0; turn < subjects.length; turn++) {
      const index = (round + turn) % subjects.length
      perJob[index]!.push(yield* Effect.promise(() => drain(runners[index]!)))
    }
  }
  const floor = median(perJob[2]!)
  printTable([
    ["", ...subjects.map((subject) => subject.name)],
    ["CPU a job, median of rounds (µs)", ...perJob.map((values) => (median(values) / 1000).toFixed(1))],
    ["above the empty fiber (µs)", ...perJob.map((values) => ((median(values) - floor) / 1000).toFixed(1))]
  ])
}).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))

await Effect.runPromise(program)
