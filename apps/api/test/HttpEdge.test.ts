/**
 * The edge of the HTTP server — logs, failures nobody planned — with the services behind
 * it swapped for test doubles, so the failures can be caused on purpose.
 */
import { Cases } from "@nestfleet/core/Cases"
import { ChangePreps } from "@nestfleet/core/ChangePreps"
import { Drafts } from "@nestfleet/core/Drafts"
import { Knowledge } from "@nestfleet/core/Knowledge"
import { AiSettings } from "@nestfleet/core/AiSettings"
import { Channels } from "@nestfleet/core/Channels"
import { Ingestion } from "@nestfleet/core/Ingestion"
import { Products } from "@nestfleet/core/Products"
import { Sessions } from "@nestfleet/core/Sessions"
import { SystemStatus } from "@nestfleet/core/SystemStatus"
import { Users } from "@nestfleet/core/Users"
import { ErrorBody } from "@nestfleet/domain/Errors"
import { Health } from "@nestfleet/domain/HealthApi"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { Multipart } from "@effect/platform"
import { expect, layer } from "@effect/vitest"
import { Data, Duration, Effect, Layer, Option, Schema } from "effect"
import * as ApiFailures from "../src/http/ApiFailures.js"
import * as Http from "../src/Http.js"
import * as LogCapture from "./LogCapture.js"
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
const otherServices = Layer.mergeAll(
  makeTestLayer(Sessions)({}),
  makeTestLayer(Users)({}),
  makeTestLayer(Products)({}),
  makeTestLayer(Channels)({}),
  makeTestLayer(Ingestion)({}),
  makeTestLayer(Cases)({}),
  makeTestLayer(Drafts)({}),
  makeTestLayer(ChangePreps)({}),
  makeTestLayer(Knowledge)({}),
  makeTestLayer(AiSettings)({})
)

const logs = LogCapture.make()
const logLines = logs.lines

const EdgeLayer = Http.makeLayer({
  listen: { port: 0, host: "127.0.0.1" },
  maxBodyBytes: TestServer.maxBodyBytes,
  shutdownTimeout: Duration.seconds(5)
}).pipe(
  Layer.provide(systemStatusDouble),
  Layer.provide(otherServices),
  Layer.provide(logs.layer),
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
        "http.path": "/api/v1/health",
        "http.status": 200
      })
      // No request line leaves without an id.
      const requestLines = logLines.filter((line) => "http.path" in line)
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

  it.effect("the access log keeps the path and the names of the query parameters, never their values", () =>
    Effect.gen(function*() {
      const query = "?access_token=SECRET-TOKEN-1&q=customer+words+here&q=again&eyJhbGciOiJIUzI1NiJ9.e30.sig-as-a-name"
      const found = yield* TestServer.request(`/api/v1/health${query}`, { headers: { "x-request-id": "query.check.0001" } })
      expect(found.status).toBe(200)
      expect(logs.of("query.check.0001")).toEqual([
        expect.objectContaining({
          level: "info",
          msg: "Sent HTTP response",
          "http.path": "/api/v1/health",
          "http.query": "access_token,q,(withheld)",
          "http.status": 200
        })
      ])
      // An unknown route: its answer and its log line keep the values out too.
      const missing = yield* TestServer.request("/api/v1/nowhere?access_token=SECRET-TOKEN-2", {
        headers: { "x-request-id": "query.check.0002" }
      })
      expect(missing.status).toBe(404)
      expect(decodeErrorBody(missing.body).message).toBe("No route for GET /api/v1/nowhere")
      expect(logs.of("query.check.0002")).toEqual([
        expect.objectContaining({ "http.path": "/api/v1/nowhere", "http.query": "access_token", "http.status": 404 })
      ])
      expect(JSON.stringify(logLines)).not.toMatch(/SECRET-TOKEN|customer|eyJhbGci/)
    }))

  it.effect("every answer carries no-store and nosniff: success, 400, 500 and the platform's 404", () =>
    Effect.gen(function*() {
      const answers = {
        success: yield* TestServer.request("/api/v1/health"),
        badJson: yield* TestServer.request("/api/v1/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{"
        }),
        defect: yield* TestServer.request("/api/v1/ready"),
        unknownRoute: yield* TestServer.request("/no/such/route"),
        docs: yield* TestServer.request("/api/v1/docs")
      }
      for (const [kind, answer] of Object.entries(answers)) {
        expect([kind, answer.headers.get("cache-control"), answer.headers.get("x-content-type-options")])
          .toEqual([kind, "no-store", "nosniff"])
      }
      expect([answers.success.status, answers.badJson.status, answers.defect.status, answers.unknownRoute.status])
        .toEqual([200, 400, 500, 404])
    }))

  it.effect("a client's X-Request-Id is used only when it is 8 to 64 plain characters, on errors and 404s too", () =>
    Effect.gen(function*() {
      const idOf = (path: string, requestId: string) =>
        Effect.map(TestServer.request(path, { headers: { "x-request-id": requestId } }), (response) => ({
          header: response.headers.get("x-request-id"),
          body: (response.body as { requestId?: string }).requestId
        }))
      const longest = `${"a".repeat(60)}.:-_`
      for (const path of ["/api/v1/health", "/api/v1/ready", "/no/such/route"]) {
        const kept = yield* idOf(path, longest)
        expect([path, kept.header]).toEqual([path, longest])
        if (path !== "/api/v1/health") expect([path, kept.body]).toEqual([path, longest])
        for (const refused of [`${longest}b`, "short", "has space-in-it", "quote\"s-and<tags>", "a".repeat(200)]) {
          const replaced = yield* idOf(path, refused)
          expect([path, refused, replaced.header]).toEqual([path, refused, expect.stringMatching(/^[0-9a-f-]{36}$/)])
          if (path !== "/api/v1/health") expect(replaced.body).toBe(replaced.header)
        }
      }
    }))

  it("a multipart body HttpApi failed to read, should one get past the 415, is the client's: a limit 413, the rest 400", () => {
    const failureOf = (reason: Multipart.MultipartError["reason"]) =>
      ApiFailures.bodyReadFailure(1024, new Multipart.MultipartError({ reason, cause: new Error("from the parser") }))
    for (const reason of ["BodyTooLarge", "FieldTooLarge", "FileTooLarge", "TooManyParts"] as const) {
      expect([reason, failureOf(reason)]).toEqual([reason, Option.some(ApiFailures.tooLarge(1024))])
    }
    expect(failureOf("Parse")).toEqual(Option.some(expect.objectContaining({
      _tag: "HttpApiDecodeError",
      message: "The request body could not be read; send it as JSON with Content-Type: application/json"
    })))
    // Writing a part to disk failed: ours, a 500 with its cause logged.
    expect(failureOf("InternalError")).toEqual(Option.none())
  })
})
