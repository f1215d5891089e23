/**
 * What the health and readiness probes report. Ready means this process can do its job
 * right now: the database answers and the job queue answers, each within a short bound.
 */
import { HealthRepo } from "@nestfleet/db/HealthRepo"
import { Health, NotReady, Readiness, ReadinessChecks, type CheckStatus } from "@nestfleet/domain/HealthApi"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Clock, Duration, Effect } from "effect"
import packageJson from "../package.json" with { type: "json" }

const checkTimeout = Duration.seconds(2)

const probe = <E, R>(name: string, check: Effect.Effect<void, E, R>): Effect.Effect<CheckStatus, never, R> =>
  check.pipe(
    Effect.timeout(checkTimeout),
    Effect.as("up" as const),
    Effect.catchAllCause((cause) =>
      Effect.as(Effect.logWarning(`Readiness check failed: ${name}`, cause), "down" as const)
    )
  )

export class SystemStatus extends Effect.Service<SystemStatus>()("@nestfleet/core/SystemStatus", {
  effect: Effect.gen(function*() {
    const healthRepo = yield* HealthRepo
    const jobQueue = yield* JobQueue
    const startedAt = yield* Clock.currentTimeMillis

    const health = Effect.map(
      Clock.currentTimeMillis,
      (now) => new Health({ status: "ok", version: packageJson.version, uptimeSeconds: (now - startedAt) / 1000 })
    )

    const readiness = Effect.fn("SystemStatus.readiness")(function*() {
      const [database, queue] = yield* Effect.all(
        [probe("database", healthRepo.ping), probe("queue", jobQueue.ping)],
        { concurrency: "unbounded" }
      )
      const checks = new ReadinessChecks({ database, queue })
      if (!checks.allUp) {
        return yield* new NotReady({ message: "A dependency is unreachable", checks })
      }
      return new Readiness({ status: "ready", checks })
    })

    return { health, readiness } as const
  }),
  dependencies: [HealthRepo.Default]
}) {}
