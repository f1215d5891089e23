/**
 * The real API (`Http.makeLayer`, the real services, a real database) listening on a free
 * port, and clients for it: the typed `HttpApiClient` and plain `fetch`.
 */
import { FetchHttpClient, HttpApiClient, HttpServer } from "@effect/platform"
import { SystemStatus } from "@nestfleet/core/SystemStatus"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Duration, Effect, Layer } from "effect"
import * as Http from "../src/Http.js"

export const maxBodyBytes = 1024 * 1024

export const layer = (
  database: Layer.Layer<TestDatabase.Services, unknown> = TestDatabase.layer,
  options: { readonly shutdownTimeout?: Duration.DurationInput } = {}
) =>
  Http.makeLayer({
    listen: { port: 0, host: "127.0.0.1" },
    maxBodyBytes,
    shutdownTimeout: Duration.decode(options.shutdownTimeout ?? "5 seconds")
  }).pipe(
    Layer.provide(SystemStatus.Default),
    Layer.provideMerge(JobQueue.Default),
    Layer.provideMerge(database),
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
