/**
 * The edge of the HTTP server — logs, failures nobody planned — with the services behind
 * it swapped for test doubles, so the failures can be caused on purpose.
 */
import { Cases } from "@nestfleet/core/Cases"
import { Channels } from "@nestfleet/core/Channels"
import { Ingestion } from "@nestfleet/core/Ingestion"
import { Products } from "@nestfleet/core/Products"
import { Sessions } from "@nestfleet/core/Sessions"
import { SystemStatus } from "@nestfleet/core/SystemStatus"
import { Users } from "@nestfleet/core/Users"
import { ErrorBody } from "@nestfleet/domain/Errors"
import { Health } from "@nestfleet/domain/HealthApi"
import * as Logging from "@nestfleet/observability/Logging"
import { expect, layer } from "@effect/vitest"
import { type Context, Data, Duration, Effect, Layer, Schema } from "effect"
import { Writable } from "node:stream"
import * as Http from "../src/Http.js"
import * as TestServer from "./TestServer.js"

const secret = "hunter2-database-password"

class DatabaseExploded extends Data.TaggedError("DatabaseExploded")<{ readonly detail: string }> {}

let healthFailsUndeclared = false

/**
 * Readiness crashes with a defect whose message holds a secret. Health works, unless a test
 * makes it fail with an error no endpoint declares (as a `SqlError` escaping a service would).
 */
const systemStatusDouble = Layer.succeed(
  SystemStatus,
  new SystemStatus({
    health: Effect.suspend(() =>
      healthFailsUndeclared
        ? Effect.fail(new DatabaseExploded({ detail: "the pool is gone" })) as never
        : Effect.succeed(new Health({ status: "ok", version: "0.0.0-test", uptimeSeconds: 1 }))
    ),
    readiness: () =>
      Effect.die(new Error(`connect ECONNREFUSED postgres://nestfleet:${secret}@db:5432`)) as never
  })
)

/**
 * The services behind the other endpoints are not what these tests are about: every method
 * of these doubles dies, so a test that reached one would fail.
 */
const unused = <I, S>(tag: Context.Tag<I, S>) =>
  Layer.succeed(tag, new Proxy({}, { get: () => () => Effect.dieMessage(`${tag.key} is not used by the edge tests`) }) as S)
const otherServices = Layer.mergeAll(
  unused(Sessions),
  unused(Users),
  unused(Products),
  unused(Channels),
  unused(Ingestion),
  unused(Cases)
)

const logLines: Array<Record<string, unknown>> = []
const logSink = new Writable({
  write(chunk, _encoding, callback) {
    for (const line of String(chunk).split("\n")) {
      if (line.trim() !== "") logLines.push(JSON.parse(line))
    }
    callback()
  }
})

const EdgeLayer = Http.makeLayer({
  listen: { port: 0, host: "127.0.0.1" },
  maxBodyBytes: TestServer.maxBodyBytes,
  shutdownTimeout: Duration.seconds(5)
}).pipe(
  Layer.provide(systemStatusDouble),
  Layer.provide(otherServices),
  Layer.provide(Logging.layer({ destination: logSink })),
  Layer.orDie
)

const decodeErrorBody = Schema.decodeUnknownSync(ErrorBody)

layer(EdgeLayer, { excludeTestServices: true })("HTTP edge", (it) => {
  it.effect("a defect answers 500 with the request id and nothing of the cause, which goes to the log", () =>
    Effect.gen(function*() {
      const response = yield* TestServer.request("/api/v1/ready")
      expect(response.status).toBe(500)
      const body = decodeErrorBody(response.body)
      expect(body._tag).toBe("InternalServerError")
      expect(body.message).toContain("Quote the request id")
      expect(body.requestId).toBe(response.headers.get("x-request-id"))
      expect(JSON.stringify(response.body)).not.toContain(secret)
      expect(JSON.stringify(response.body)).not.toContain("ECONNREFUSED")

      const logged = logLines.find((line) => line.requestId === body.requestId && line.level === "error")
      expect(logged?.msg).toBe("Request failed unexpectedly")
      expect(String(logged?.err)).toContain("ECONNREFUSED postgres://nestfleet:[redacted]@db:5432")
      expect(JSON.stringify(logLines)).not.toContain(secret)
    }))

  it.effect("every log line of a request carries its request id", () =>
    Effect.gen(function*() {
      const requestId = "log-check.0123456789"
      const response = yield* TestServer.request("/api/v1/health", { headers: { "x-request-id": requestId } })
      expect(response.status).toBe(200)
      const lines = logLines.filter((line) => line.requestId === requestId)
      expect(lines.length).toBeGreaterThan(0)
      expect(lines.find((line) => line.msg === "Sent HTTP response")).toMatchObject({
        level: "info",
        "http.method": "GET",
        "http.url": "/api/v1/health",
        "http.status": 200
      })
      // No request line leaves without an id.
      const requestLines = logLines.filter((line) => "http.url" in line)
      expect(requestLines.every((line) => typeof line.requestId === "string")).toBe(true)
    }))

  it.effect("a failure no endpoint declares is logged and answered 500 without internals", () =>
    Effect.gen(function*() {
      healthFailsUndeclared = true
      const response = yield* TestServer.request("/api/v1/health", { headers: { "x-request-id": "undeclared.failure.1" } })
      healthFailsUndeclared = false
      expect(response.status).toBe(500)
      expect(decodeErrorBody(response.body)).toMatchObject({ _tag: "InternalServerError", requestId: "undeclared.failure.1" })
      expect(JSON.stringify(response.body)).not.toContain(secret)
      expect(JSON.stringify(response.body)).not.toContain("DatabaseExploded")
      const logged = logLines.find((line) => line.requestId === "undeclared.failure.1" && line.level === "error")
      expect(String(logged?.err)).toContain("DatabaseExploded")
    }))
})
