/**
 * Every request's server span, in place of the platform's (`HttpMiddleware.tracer`, turned
 * off where the server is built): the same name, parent (the trace context a caller sent)
 * and kind, but of the URL only what `RequestTarget` allows — the path and the names of the
 * query parameters. The platform's records the whole URL and query, and spans leave the
 * process for the OTLP collector: a `q=` search with a customer's words, or a mistaken
 * `?access_token=`, would go with them.
 *
 * For the same reason the span never ends with the app's own outcome: a tracer copies a
 * failure's message into the span's status and an exception event, and the platform's
 * failures quote the request (an unknown route's is `GET /api/v1/nope?access_token=… not
 * found`). The span ends with an outcome of our own, made of the status code alone: a
 * success below 500; from 500 a `ServerErrorStatus` failure ("HTTP 500"), so that trace
 * viewers still mark the request as failed, as OpenTelemetry's conventions for server spans
 * ask, with `error.type` set to the status code. The cause of a 500 is in the log, under the
 * request id (see `ApiFailures`).
 */
import { type HttpApp, HttpServerError, HttpServerRequest, HttpTraceContext } from "@effect/platform"
import { Context, Data, Effect, Exit, Option } from "effect"
import * as RequestTarget from "./RequestTarget.js"

/** How a span ends for an answer of 500 or more: its status code, and nothing of the request. */
export class ServerErrorStatus extends Data.TaggedError("ServerErrorStatus")<{ readonly message: string }> {}

const outcomeOf = (status: number): Exit.Exit<void, ServerErrorStatus> =>
  status >= 500 ? Exit.fail(new ServerErrorStatus({ message: `HTTP ${status}` })) : Exit.void

export const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    const { path, queryNames } = RequestTarget.describe(request.url)
    // Uninterruptible around the app, so the span ends, with our outcome, however the app does.
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        Effect.makeSpan(`http.server ${request.method}`, {
          parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers)),
          kind: "server",
          captureStackTrace: false
        }),
        (span) => {
          span.attribute("http.request.method", request.method)
          span.attribute("url.path", path)
          if (queryNames !== undefined) span.attribute("url.query.names", queryNames)
          const userAgent = request.headers["user-agent"]
          if (userAgent !== undefined) span.attribute("user_agent.original", userAgent)
          if (Option.isSome(request.remoteAddress)) span.attribute("client.address", request.remoteAddress.value)
          return Effect.flatMap(Effect.exit(restore(Effect.withParentSpan(app, span))), (exit) => {
            const status = HttpServerError.exitResponse(exit).status
            span.attribute("http.response.status_code", status)
            // OpenTelemetry's semantic conventions: for a server error, its status code as text.
            if (status >= 500) span.attribute("error.type", String(status))
            return Effect.zipRight(
              Effect.clockWith((clock) => Effect.sync(() => span.end(clock.unsafeCurrentTimeNanos(), outcomeOf(status)))),
              exit
            )
          })
        }
      )
    )
  })
