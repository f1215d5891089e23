/**
 * The real API listening on a free port — the app `main.ts` runs (`makeAppLive`), served by
 * `Http.makeLayer`, on a test database — and clients for it: the typed `HttpApiClient` and
 * plain `fetch`.
 */
import { FetchHttpClient, HttpApiClient, HttpServer } from "@effect/platform"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import * as NodeHttp from "node:http"
import { makeAppLive } from "../src/App.js"
import * as Http from "../src/Http.js"

export const maxBodyBytes = 2 * 1024 * 1024

/** The first admin every test server starts with. */
export const admin = { email: "admin@nestfleet.test", password: "admin-password-for-tests" } as const

export const jwtSecret = "test-jwt-secret-of-at-least-32-bytes-long"

/** The key test servers encrypt secrets at rest with (required on a PostgreSQL server). */
export const encryptionKey = "5e".repeat(32)

/** The configuration of a test server; `overrides` wins. */
export const config = (overrides: Readonly<Record<string, string>> = {}) =>
  Layer.setConfigProvider(
    ConfigProvider.fromMap(
      new Map(Object.entries({
        JWT_SECRET: jwtSecret,
        ENCRYPTION_KEY: encryptionKey,
        ADMIN_EMAIL: admin.email,
        ADMIN_PASSWORD: admin.password,
        ...overrides
      }))
    )
  )

/**
 * The app on `database` (a fresh migrated one by default). Without `withWorker` it sends jobs
 * and leaves them queued, as `pnpm start:api` does.
 */
export const layer = (
  database: Layer.Layer<TestDatabase.Services, unknown> = TestDatabase.layer,
  options: {
    readonly shutdownTimeout?: Duration.DurationInput
    readonly config?: Readonly<Record<string, string>>
    /** Also run the worker, as `pnpm start` does, for tests that follow a case through the pipeline. */
    readonly withWorker?: boolean
  } = {}
) =>
  makeAppLive({
    http: Http.makeLayer({
      listen: { port: 0, host: "127.0.0.1" },
      maxBodyBytes,
      shutdownTimeout: Duration.decode(options.shutdownTimeout ?? "5 seconds")
    }),
    database,
    withWorker: options.withWorker === true
  }).pipe(
    Layer.provide(config(options.config)),
    Layer.orDie
  )

export const baseUrl = Effect.map(HttpServer.HttpServer, (server) => {
  const address = server.address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return `http://127.0.0.1:${address.port}`
})

export const client = Effect.flatMap(baseUrl, (baseUrl) => HttpApiClient.make(NestFleetApi, { baseUrl })).pipe(
  Effect.provide(FetchHttpClient.layer)
)

/** `fetch` against the test server; answers the status, headers and parsed body. */
export const request = (path: string, init?: RequestInit) =>
  Effect.flatMap(baseUrl, (baseUrl) =>
    Effect.promise(async () => {
      const response = await fetch(`${baseUrl}${path}`, init)
      const text = await response.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON
      }
      return { status: response.status, headers: response.headers, body }
    }))

/**
 * POSTs a body streamed without a content-length (chunked), the way `fetch` never sends
 * one: `head`, then `filler` until more than `atLeastBytes` were written, then `tail`.
 * Answers the status and the body text; fails when the connection breaks instead.
 */
export const postChunked = (
  path: string,
  body: { readonly head?: string; readonly filler: string; readonly atLeastBytes: number; readonly tail?: string },
  headers: Readonly<Record<string, string>> = { "content-type": "application/json" }
) =>
  Effect.flatMap(baseUrl, (base) => {
    const url = new URL(base)
    return Effect.async<{ readonly status: number; readonly body: string }, Error>((resume) => {
      const request = NodeHttp.request({
        host: url.hostname,
        port: url.port,
        method: "POST",
        path,
        headers: { ...headers, "transfer-encoding": "chunked" }
      }, (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (text += chunk))
        response.on("end", () => resume(Effect.succeed({ status: response.statusCode ?? 0, body: text })))
      })
      request.on("error", (error) => resume(Effect.fail(error)))
      if (body.head !== undefined) request.write(body.head)
      for (let sent = 0; sent <= body.atLeastBytes; sent += body.filler.length) request.write(body.filler)
      request.end(body.tail)
      return Effect.sync(() => request.destroy())
    }).pipe(Effect.timeout("10 seconds"))
  })
