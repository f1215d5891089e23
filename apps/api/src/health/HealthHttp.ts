import { HttpApiBuilder } from "@effect/platform"
import { SystemStatus } from "@nestfleet/core/SystemStatus"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const HealthHttpLive = HttpApiBuilder.group(NestFleetApi, "health", (handlers) =>
  Effect.gen(function*() {
    const status = yield* SystemStatus
    return handlers
      .handle("health", () => status.health)
      .handle("ready", () => status.readiness())
  }))
