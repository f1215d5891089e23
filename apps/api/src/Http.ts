/**
 * The HTTP server: the `NestFleetApi` contract with its handlers, OpenAPI at
 * `/api/v1/openapi.json`, interactive docs at `/api/v1/docs`, and the edge middleware (the
 * request's span, request id, access log, security headers, one error shape, body limit).
 * Closing the layer drains it.
 */
import { HttpApiBuilder, HttpApiSwagger, type HttpApp, HttpMiddleware, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { apiPrefix, NestFleetApi } from "@nestfleet/domain/Api"
import { ShutdownTimeout } from "@nestfleet/jobs/JobsConfig"
import { type Duration, Effect, Layer } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"
import { AccessMiddlewareLive } from "./auth/AccessMiddleware.js"
import { AuthHttpLive } from "./auth/AuthHttp.js"
import { SessionHttpLive } from "./auth/SessionHttp.js"
import { HealthHttpLive } from "./health/HealthHttp.js"
import * as AccessLog from "./http/AccessLog.js"
import * as ApiFailures from "./http/ApiFailures.js"
import { DrainingIncomingMessage } from "./http/DrainingRequest.js"
import * as ErrorBodies from "./http/ErrorBodies.js"
import { drainOnClose } from "./http/GracefulShutdown.js"
import * as RequestId from "./http/RequestId.js"
import * as RequestSpan from "./http/RequestSpan.js"
import * as SecurityHeaders from "./http/SecurityHeaders.js"
import { HttpConfig } from "./HttpConfig.js"
import { CasesHttpLive } from "./cases/CasesHttp.js"
import { ChangePrepsHttpLive } from "./changePreps/ChangePrepsHttp.js"
import { DraftsHttpLive } from "./drafts/DraftsHttp.js"
import { ChannelsHttpLive } from "./channels/ChannelsHttp.js"
import { KnowledgeHttpLive } from "./knowledge/KnowledgeHttp.js"
import { ProductsHttpLive } from "./products/ProductsHttp.js"
import { AiSettingsHttpLive } from "./settings/AiSettingsHttp.js"
import { UsersHttpLive } from "./users/UsersHttp.js"
import { WebhooksHttpLive } from "./webhooks/WebhooksHttp.js"

const ApiLive = HttpApiBuilder.api(NestFleetApi).pipe(
  Layer.provide([
    HealthHttpLive,
    AuthHttpLive,
    SessionHttpLive,
    UsersHttpLive,
    ProductsHttpLive,
    ChannelsHttpLive,
    WebhooksHttpLive,
    CasesHttpLive,
    DraftsHttpLive,
    ChangePrepsHttpLive,
    KnowledgeHttpLive,
    AiSettingsHttpLive
  ]),
  Layer.provide(AccessMiddlewareLive)
)

/** Outermost first: the request's span, request id, access log, security headers, one error shape. */
const edge = (app: HttpApp.Default): HttpApp.Default<never, never> =>
  app.pipe(
    ErrorBodies.middleware,
    SecurityHeaders.middleware,
    AccessLog.middleware,
    RequestId.middleware,
    RequestSpan.middleware
  )

export interface ServerOptions {
  readonly listen: Net.ListenOptions
  readonly maxBodyBytes: number
  readonly shutdownTimeout: Duration.Duration
}

export const makeLayer = (options: ServerOptions) =>
  // A new Node server each time the layer is built.
  Layer.unwrapEffect(Effect.sync(() => {
    // Requests whose body runs over the limit are answered 413, not reset (see DrainingRequest).
    const server = Http.createServer({
      IncomingMessage: DrainingIncomingMessage,
      // Idle keep-alive connections are closed by the client, never by us first: Node's 5 s
      // default raced clients (fetch keeps sockets about 4 s, proxies longer) reusing a socket
      // the server was closing — a reset on a request that was never read.
      keepAliveTimeout: 65_000,
      headersTimeout: 66_000
    })
    return Layer.scopedDiscard(drainOnClose(server, options.shutdownTimeout)).pipe(
      // RequestSpan stands in for the platform's span, which would record the query's values.
      Layer.provideMerge(HttpMiddleware.withTracerDisabledWhen(HttpApiBuilder.serve(edge), () => true)),
      Layer.provide(ApiFailures.layer(options.maxBodyBytes)),
      Layer.provide(HttpApiSwagger.layer({ path: `${apiPrefix}/docs` })),
      Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: `${apiPrefix}/openapi.json` })),
      Layer.provide(ApiLive),
      HttpServer.withLogAddress,
      Layer.provideMerge(NodeHttpServer.layer(() => server, options.listen))
    )
  }))

export const HttpLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* HttpConfig
    const shutdownTimeout = yield* ShutdownTimeout
    return makeLayer({
      listen: { port: config.port, host: config.host },
      maxBodyBytes: config.maxBodyBytes,
      shutdownTimeout
    })
  })
)
