import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Public } from "./Access.js"

export class Health extends Schema.Class<Health>("Health")({
  status: Schema.Literal("ok"),
  version: Schema.String,
  uptimeSeconds: Schema.NonNegative
}) {}

export const CheckStatus = Schema.Literal("up", "down")
export type CheckStatus = typeof CheckStatus.Type

export class ReadinessChecks extends Schema.Class<ReadinessChecks>("ReadinessChecks")({
  database: CheckStatus,
  queue: CheckStatus
}) {
  get allUp(): boolean {
    return this.database === "up" && this.queue === "up"
  }
}

export class Readiness extends Schema.Class<Readiness>("Readiness")({
  status: Schema.Literal("ready"),
  checks: ReadinessChecks
}) {}

export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  { message: Schema.String, checks: ReadinessChecks },
  HttpApiSchema.annotations({ status: 503, description: "A dependency is unreachable." })
) {}

/** Liveness and readiness probes, for load balancers and orchestrators. */
export class HealthApi extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("health", "/health")
      .addSuccess(Health)
      .annotate(OpenApi.Summary, "The process is up")
  )
  .add(
    HttpApiEndpoint.get("ready", "/ready")
      .addSuccess(Readiness)
      .addError(NotReady)
      .annotate(OpenApi.Summary, "The database and the job queue are reachable")
  )
  .annotate(Public, true)
  .annotate(OpenApi.Title, "Health")
{}
