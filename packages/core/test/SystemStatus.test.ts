import { assert, describe, expect, it } from "@effect/vitest"
import { HealthRepo } from "@nestfleet/db/HealthRepo"
import { NotReady } from "@nestfleet/domain/HealthApi"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Effect, Fiber, Layer, TestClock } from "effect"
import { SystemStatus } from "../src/SystemStatus.js"

/** SystemStatus over a database and a queue whose pings answer as given; `it.effect`'s TestClock tells the time. */
const statusWith = (pings: { readonly database: Effect.Effect<void>; readonly queue: Effect.Effect<void> }) =>
  SystemStatus.DefaultWithoutDependencies.pipe(
    Layer.provide(makeTestLayer(HealthRepo)({ ping: pings.database })),
    Layer.provide(makeTestLayer(JobQueue)({ ping: pings.queue }))
  )

describe("SystemStatus", () => {
  it.effect("reports the uptime by the Clock, from when the service was built", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1 hour")
      const status = yield* Effect.provide(SystemStatus, statusWith({ database: Effect.void, queue: Effect.void }))
      yield* TestClock.adjust("90 seconds")
      expect((yield* status.health).uptimeSeconds).toBe(90)
    }))

  it.effect("is not ready when a check hangs past its two seconds, naming that check", () =>
    Effect.gen(function*() {
      const status = yield* SystemStatus
      const readiness = yield* Effect.fork(Effect.flip(status.readiness()))
      yield* TestClock.adjust("2 seconds")
      const notReady = yield* Fiber.join(readiness)
      assert.instanceOf(notReady, NotReady)
      expect(notReady.checks).toMatchObject({ database: "up", queue: "down" })
    }).pipe(Effect.provide(statusWith({ database: Effect.void, queue: Effect.never }))))
})
