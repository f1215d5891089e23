import { assert, describe, expect, it, layer } from "@effect/vitest"
import * as Database from "@nestfleet/db/Database"
import * as Migrator from "@nestfleet/db/Migrator"
import * as Sql from "@nestfleet/db/Sql"
import * as TcpProxy from "@nestfleet/db/testing/TcpProxy"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { refreshCookie } from "@nestfleet/domain/AuthApi"
import { NotReady } from "@nestfleet/domain/HealthApi"
import { ErrorBody } from "@nestfleet/domain/Errors"
import { type Duration, Effect, Exit, Fiber, Layer, Option, Schedule, Schema, Scope } from "effect"
import * as Http from "node:http"
import * as AuthFlows from "./AuthFlows.js"
import * as TestServer from "./TestServer.js"

const decodeErrorBody = Schema.decodeUnknownSync(ErrorBody)

layer(TestServer.layer(), { excludeTestServices: true, timeout: 120_000 })("HTTP API", (it) => {
  it.effect("GET /api/v1/health answers 200 with the version and a request id", () =>
    Effect.gen(function*() {
      const client = yield* TestServer.client
      const health = yield* client.health.health()
      expect(health.status).toBe("ok")
      expect(health.version).toMatch(/^\d+\.\d+\.\d+$/)
      const raw = yield* TestServer.request("/api/v1/health")
      expect(raw.status).toBe(200)
      expect(raw.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
    }))

  it.effect("a caller's x-request-id is kept when it is a plain token, replaced otherwise", () =>
    Effect.gen(function*() {
      const kept = yield* TestServer.request("/api/v1/health", { headers: { "x-request-id": "edge-proxy.1234abcd" } })
      expect(kept.headers.get("x-request-id")).toBe("edge-proxy.1234abcd")
      const replaced = yield* TestServer.request("/api/v1/health", { headers: { "x-request-id": "<script>" } })
      expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    }))

  it.effect("GET /api/v1/ready answers 200 when the database and the queue answer", () =>
    Effect.gen(function*() {
      const client = yield* TestServer.client
      const ready = yield* client.health.ready()
      expect(ready.checks).toMatchObject({ database: "up", queue: "up" })
    }))

  it.effect("an unknown route answers 404 in the common error shape", () =>
    Effect.gen(function*() {
      const response = yield* TestServer.request("/api/v1/no-such-thing?x=1")
      expect(response.status).toBe(404)
      const body = decodeErrorBody(response.body)
      expect(body._tag).toBe("NotFound")
      // The path only: a query's values are the client's, and may be secrets.
      expect(body.message).toBe("No route for GET /api/v1/no-such-thing")
      expect(body.requestId).toBe(response.headers.get("x-request-id"))
      expect(response.headers.get("content-type")).toContain("application/json")

      const outsideApi = yield* TestServer.request("/elsewhere", { method: "DELETE" })
      expect(outsideApi.status).toBe(404)
      expect(decodeErrorBody(outsideApi.body)._tag).toBe("NotFound")
    }))

  it.effect("a body over the limit (2 MiB) answers 413 in the common error shape, before it is read", () =>
    Effect.gen(function*() {
      const body = new Uint8Array(TestServer.maxBodyBytes + 1)
      const response = yield* TestServer.request("/api/v1/health", {
        method: "POST",
        body,
        headers: { "content-type": "application/json" }
      })
      expect(response.status).toBe(413)
      const error = decodeErrorBody(response.body)
      expect(error).toMatchObject({ _tag: "PayloadTooLarge", limitBytes: TestServer.maxBodyBytes })
      expect(error.message).toContain(`${TestServer.maxBodyBytes} bytes`)
      expect(error.requestId).toBe(response.headers.get("x-request-id"))

      const atLimit = yield* TestServer.request("/api/v1/health", {
        method: "POST",
        body: new Uint8Array(TestServer.maxBodyBytes),
        headers: { "content-type": "application/json" }
      })
      expect(atLimit.status).toBe(404) // within the limit; no POST route there
    }))

  it.effect("a body declared over the limit is refused without waiting for it; past 8 MiB, the connection is closed", () =>
    Effect.gen(function*() {
      const baseUrl = new URL(yield* TestServer.baseUrl)
      // Announce a body, send a few bytes, and never finish: only an answer given on the
      // content-length alone can arrive.
      const refuse = (declaredBytes: number) =>
        Effect.async<{ status: number; connection: string | undefined }>((resume) => {
          const request = Http.request({
            host: baseUrl.hostname,
            port: baseUrl.port,
            method: "POST",
            path: "/api/v1/health",
            headers: { "content-type": "application/json", "content-length": String(declaredBytes) }
          }, (response) => {
            response.resume()
            resume(Effect.succeed({ status: response.statusCode ?? 0, connection: response.headers.connection }))
            request.destroy()
          })
          request.on("error", () => {})
          request.write("{\"partial\":")
          return Effect.sync(() => request.destroy())
        }).pipe(Effect.timeout("5 seconds"))
      // A little over: Node reads the rest into nothing and keeps the connection, so the
      // sender sees the answer; far over: not worth reading.
      expect(yield* refuse(2 * TestServer.maxBodyBytes)).toEqual({ status: 413, connection: "keep-alive" })
      expect(yield* refuse(16 * TestServer.maxBodyBytes)).toEqual({ status: 413, connection: "close" })
    }))

  it.effect("a JSON body streamed without a content-length answers 413 once it runs over the limit", () =>
    Effect.gen(function*() {
      const answer = yield* TestServer.postChunked("/api/v1/auth/login", {
        head: "{\"email\":\"a@example.com\",\"password\":\"",
        filler: "x".repeat(64 * 1024),
        atLeastBytes: TestServer.maxBodyBytes,
        tail: "\"}"
      })
      expect(answer.status).toBe(413)
      expect(decodeErrorBody(JSON.parse(answer.body))).toMatchObject({ _tag: "PayloadTooLarge" })
      // The connection was not reset: the server is there for the next request.
      expect((yield* TestServer.request("/api/v1/health")).status).toBe(200)
    }))

  it.effect("an unsafe request a page on another site makes a browser send answers 403; other sites' reads, and servers, pass", () =>
    Effect.gen(function*() {
      const crossSite = { "sec-fetch-site": "cross-site" }
      // Login CSRF: a form elsewhere signing the visitor in to an account of its choosing.
      const login = yield* AuthFlows.login(TestServer.admin, crossSite)
      expect(login.status).toBe(403)
      expect(decodeErrorBody(login.body)).toEqual({
        _tag: "Forbidden",
        message: "Cross-site requests are refused",
        requestId: login.headers.get("x-request-id")
      })
      expect(login.refreshToken).toBeUndefined()

      // A logout from elsewhere would clear the cookie and end the session: it stays.
      const { refreshToken } = yield* AuthFlows.signIn(TestServer.admin)
      const logout = yield* TestServer.request("/api/v1/auth/logout", {
        method: "POST",
        headers: { ...crossSite, cookie: `${refreshCookie.name}=${refreshToken}` }
      })
      expect([logout.status, AuthFlows.refreshCookieOf(logout.headers)]).toEqual([403, undefined])
      expect((yield* AuthFlows.refresh(refreshToken)).status).toBe(200)

      // Every unsafe method, on any route, before anything else looks at it.
      for (const method of ["PUT", "PATCH", "DELETE", "POST"]) {
        const refused = yield* TestServer.request("/api/v1/channels/00000000-0000-4000-8000-000000000000", {
          method,
          headers: { ...crossSite, "content-type": "text/plain" },
          body: "x"
        })
        expect([method, refused.status]).toEqual([method, 403])
      }
      expect((yield* TestServer.request("/api/v1/health", { headers: crossSite })).status).toBe(200)

      // The site itself, a typed or bookmarked address, and a server (no header) pass.
      for (const site of ["same-origin", "same-site", "none"]) {
        const passed = yield* AuthFlows.login(TestServer.admin, { "sec-fetch-site": site })
        expect([site, passed.status]).toEqual([site, 200])
      }
      expect((yield* AuthFlows.login(TestServer.admin)).status).toBe(200)
    }))

  it.effect("a kept-alive connection idle past Node's 5 s default still serves the next request on the same socket", () =>
    Effect.gen(function*() {
      const baseUrl = new URL(yield* TestServer.baseUrl)
      const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })
      const get = () =>
        Effect.async<{ status: number; socket: unknown }, Error>((resume) => {
          const request = Http.get({ host: baseUrl.hostname, port: baseUrl.port, path: "/api/v1/health", agent }, (response) => {
            response.resume()
            response.on("end", () => resume(Effect.succeed({ status: response.statusCode ?? 0, socket: request.socket })))
          })
          request.on("error", (error) => resume(Effect.fail(error)))
        })
      const first = yield* get()
      yield* Effect.sleep("6 seconds")
      const second = yield* get()
      agent.destroy()
      expect([first.status, second.status]).toEqual([200, 200])
      // The server did not close the idle socket: the agent reused it.
      expect(second.socket).toBe(first.socket)
    }), { timeout: 20_000 })

  it.effect("serves the OpenAPI document and the interactive docs", () =>
    Effect.gen(function*() {
      const openapi = yield* TestServer.request("/api/v1/openapi.json")
      expect(openapi.status).toBe(200)
      const document = openapi.body as {
        openapi: string
        paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>
      }
      expect(document.openapi).toMatch(/^3\./)
      expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(["/api/v1/health", "/api/v1/ready"]))
      // Every endpoint says a body not sent as JSON is refused, the webhooks' too.
      for (const [path, method] of [["/api/v1/auth/login", "post"], ["/api/v1/webhooks/{channelId}", "post"]] as const) {
        expect([path, document.paths[path]?.[method]?.responses["415"]?.description]).toEqual([
          path,
          expect.stringContaining("Content-Type: application/json")
        ])
      }
      const docs = yield* TestServer.request("/api/v1/docs")
      expect(docs.status).toBe(200)
      expect(docs.headers.get("content-type")).toContain("text/html")
      expect(String(docs.body)).toContain("/api/v1/health")
    }))
})

describe("HTTP API with its database behind a proxy", () => {
  // The embedded database lives inside the process and cannot become unreachable; these
  // need a PostgreSQL server, which CI provides through TEST_DATABASE_URL.
  const server = TestDatabase.serverUrl

  /** The API on a fresh server database, reached through a proxy the test controls. */
  const proxied = (scope: Scope.Scope, options: { readonly shutdownTimeout?: Duration.DurationInput } = {}) =>
    Effect.gen(function*() {
      const { proxy, url } = yield* TestDatabase.createProxiedServerDatabase(Option.getOrThrow(server))
      const database = Layer.effectDiscard(Migrator.migrateDirectory).pipe(
        Layer.provideMerge(Sql.layer),
        Layer.provideMerge(Database.layerServer({ url, poolMax: 4 }))
      )
      const context = yield* Layer.buildWithScope(TestServer.layer(database, options), scope)
      return { proxy, context }
    })

  it.live.skipIf(Option.isNone(server))(
    "ready answers 503 naming the database when it is down, and 200 again when it is back (needs a server: TEST_DATABASE_URL)",
    () =>
      Effect.gen(function*() {
        const { context, proxy } = yield* proxied(yield* Effect.scope)
        const client = yield* Effect.provide(TestServer.client, context)
        expect((yield* client.health.ready()).checks.database).toBe("up")

        yield* proxy.cut
        const down = yield* Effect.flip(client.health.ready())
        assert.instanceOf(down, NotReady)
        expect(down.checks.database).toBe("down")
        const raw = yield* Effect.provide(TestServer.request("/api/v1/ready"), context)
        expect(raw.status).toBe(503)
        expect(decodeErrorBody(raw.body)).toMatchObject({ _tag: "NotReady", checks: { database: "down" } })

        yield* proxy.restore
        const back = yield* client.health.ready().pipe(
          Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo("20 seconds")))
        )
        expect(back.checks).toMatchObject({ database: "up", queue: "up" })
      }).pipe(Effect.scoped),
    120_000
  )

  it.live.skipIf(Option.isNone(server))(
    "closing the server lets a request in flight finish, then refuses connections (needs a server: TEST_DATABASE_URL)",
    () =>
      Effect.gen(function*() {
        const serverScope = yield* Scope.make()
        const { context, proxy } = yield* proxied(serverScope)
        const baseUrl = yield* Effect.provide(TestServer.baseUrl, context)
        // Every database round trip now takes 0.8 s, so /ready is slow.
        yield* proxy.setDelay(400)
        const inFlight = yield* TcpProxy.forkInFlight(proxy, Effect.provide(TestServer.request("/api/v1/ready"), context))
        const closing = yield* Effect.fork(Scope.close(serverScope, Exit.void))
        const response = yield* Fiber.join(inFlight)
        expect(response.status).toBe(200)
        expect(response.headers.get("connection")).toBe("close")
        yield* Fiber.join(closing)
        const refused = yield* Effect.promise(() => fetch(`${baseUrl}/api/v1/health`).then(() => "answered", () => "refused"))
        expect(refused).toBe("refused")
      }).pipe(Effect.scoped),
    120_000
  )

  it.live.skipIf(Option.isNone(server))(
    "a request still running at the shutdown timeout is cut off, and the server stops on time (needs a server: TEST_DATABASE_URL)",
    () =>
      Effect.gen(function*() {
        const serverScope = yield* Scope.make()
        const { context, proxy } = yield* proxied(serverScope, { shutdownTimeout: "300 millis" })
        yield* proxy.setDelay(400)
        const inFlight = yield* TcpProxy.forkInFlight(
          proxy,
          Effect.exit(Effect.provide(TestServer.request("/api/v1/ready"), context))
        )
        const started = Date.now()
        yield* Scope.close(serverScope, Exit.void)
        expect(Date.now() - started).toBeLessThan(3_000)
        expect(Exit.isFailure(yield* Fiber.join(inFlight))).toBe(true) // the connection was cut
      }).pipe(Effect.scoped),
    120_000
  )
})
