/**
 * Every request's server span (`RequestSpan`) on the real server: one per request, continuing
 * the caller's trace, and holding the path and the names of the query parameters — never their
 * values, which would leave the process with the spans: not in its attributes, nor in how it
 * ended (a tracer copies a failure's message into the exported span's status and events).
 */
import { HttpServerRequest } from "@effect/platform"
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
import { Health } from "@nestfleet/domain/HealthApi"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Tracer } from "effect"
import * as Http from "../src/Http.js"
import { signIn } from "./AuthFlows.js"
import * as TestServer from "./TestServer.js"

/** Every span the server starts, made by Effect's own tracer. */
const started: Array<Tracer.Span> = []
const nativeTracer = Effect.runSync(Effect.tracer)
const recordingTracer = Tracer.make({
  span: (...args) => {
    const span = nativeTracer.span(...args)
    started.push(span)
    return span
  },
  context: nativeTracer.context
})

const attributesOf = (span: Tracer.Span) => Object.fromEntries(span.attributes)

/** All a span holds that an exporter sends: its name, attributes, events and how it ended. */
const everythingIn = (span: Tracer.Span) =>
  JSON.stringify(
    { name: span.name, attributes: attributesOf(span), events: (span as { events?: unknown }).events, status: span.status },
    (_key, value) => typeof value === "bigint" ? String(value) : value
  )

const serverSpans = () => started.filter((span) => span.kind === "server")

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const callerSpanId = "00f067aa0ba902b7"

const server = TestServer.layer().pipe(Layer.provide(Layer.setTracer(recordingTracer)))

layer(server, { excludeTestServices: true })("RequestSpan", (it) => {
  it.effect("a request's span continues the caller's trace and names the query's parameters, never their values", () =>
    Effect.gen(function*() {
      const { accessToken } = yield* signIn(TestServer.admin)
      started.length = 0
      const response = yield* TestServer.request("/api/v1/cases?q=customer+words+about+a+refund&access_token=tok-123", {
        headers: { authorization: `Bearer ${accessToken}`, traceparent: `00-${traceId}-${callerSpanId}-01` }
      })
      expect(response.status).toBe(200)

      const servers = serverSpans()
      expect(servers.map((span) => span.name)).toEqual(["http.server GET"])
      const server = servers[0]!
      expect(server.traceId).toBe(traceId)
      expect(server.parent._tag === "Some" && server.parent.value.spanId).toBe(callerSpanId)
      expect(attributesOf(server)).toMatchObject({
        "http.request.method": "GET",
        "url.path": "/api/v1/cases",
        "url.query.names": "q,access_token",
        "http.response.status_code": 200
      })
      // The service's spans are the request span's children, in the same trace.
      expect(started.some((span) => span.name === "Cases.list" && span.traceId === traceId)).toBe(true)
      const everything = JSON.stringify(started.map((span) => [span.name, attributesOf(span)]))
      expect(everything).not.toContain("refund")
      expect(everything).not.toContain("tok-123")
    }))

  it.effect("an unknown route's span ends without the platform's failure, which quotes the whole URL", () =>
    Effect.gen(function*() {
      started.length = 0
      const response = yield* TestServer.request("/api/v1/nope?access_token=tok-404-secret")
      expect(response.status).toBe(404)
      const [span] = serverSpans()
      expect(attributesOf(span!)).toMatchObject({ "url.path": "/api/v1/nope", "http.response.status_code": 404 })
      expect(attributesOf(span!)["error.type"]).toBeUndefined()
      for (const each of started) expect(everythingIn(each)).not.toContain("tok-404-secret")
      // Ended as a success: nothing for a tracer to copy into the span's status or an event.
      expect(span!.status._tag === "Ended" && Exit.isSuccess(span!.status.exit)).toBe(true)
    }))
})

/**
 * A 500, caused on purpose: readiness dies with a message that quotes the request's URL, as a
 * careless error message might. Every other service is a double that dies if reached.
 */
const failingStatus = Layer.succeed(
  SystemStatus,
  new SystemStatus({
    health: Effect.succeed(new Health({ status: "ok", version: "0.0.0-test", uptimeSeconds: 1 })),
    readiness: () =>
      Effect.flatMap(
        HttpServerRequest.HttpServerRequest,
        (request) => Effect.die(new Error(`readiness failed for ${request.url}`))
      ) as never
  })
)

const failingServer = Http.makeLayer({
  listen: { port: 0, host: "127.0.0.1" },
  maxBodyBytes: TestServer.maxBodyBytes,
  shutdownTimeout: Duration.seconds(5)
}).pipe(
  Layer.provide(failingStatus),
  Layer.provide(Layer.mergeAll(
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
  )),
  Layer.provide(Layer.setTracer(recordingTracer)),
  Layer.orDie
)

layer(failingServer, { excludeTestServices: true })("RequestSpan on a 500", (it) => {
  it.effect("a 500's span ends failed with its status code alone, and error.type set to it", () =>
    Effect.gen(function*() {
      started.length = 0
      const response = yield* TestServer.request("/api/v1/ready?access_token=tok-500-secret")
      expect(response.status).toBe(500)
      const [span] = serverSpans()
      expect(attributesOf(span!)).toMatchObject({
        "url.path": "/api/v1/ready",
        "url.query.names": "access_token",
        "http.response.status_code": 500,
        "error.type": "500"
      })
      // Failed, so trace viewers mark it, with a failure of our own that says only the status.
      expect(span!.status._tag === "Ended" && span!.status.exit).toEqual(
        Exit.fail(expect.objectContaining({ _tag: "ServerErrorStatus", message: "HTTP 500" }))
      )
      for (const each of started) expect(everythingIn(each)).not.toContain("tok-500-secret")
    }))
})
