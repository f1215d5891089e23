/**
 * Every request's server span (`RequestSpan`) on the real server: one per request, continuing
 * the caller's trace, and holding the path and the names of the query parameters — never their
 * values, which would leave the process with the spans.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Tracer } from "effect"
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

      const servers = started.filter((span) => span.kind === "server")
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
})
