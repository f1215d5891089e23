/**
 * Every request's server span, in place of the platform's (`HttpMiddleware.tracer`, turned
 * off where the server is built): the same name, parent (the trace context a caller sent)
 * and kind, but of the URL only what `RequestTarget` allows — the path and the names of the
 * query parameters. The platform's records the whole URL and query, and spans leave the
 * process for the OTLP collector: a `q=` search with a customer's words, or a mistaken
 * `?access_token=`, would go with them.
 */
import { type HttpApp, HttpServerError, HttpServerRequest, HttpTraceContext } from "@effect/platform"
import { Context, Effect, Option } from "effect"
import * as RequestTarget from "./RequestTarget.js"

export const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    const { path, queryNames } = RequestTarget.describe(request.url)
    return Effect.useSpan(
      `http.server ${request.method}`,
      {
        parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers)),
        kind: "server",
        captureStackTrace: false
      },
      (span) => {
        span.attribute("http.request.method", request.method)
        span.attribute("url.path", path)
        if (queryNames !== undefined) span.attribute("url.query.names", queryNames)
        const userAgent = request.headers["user-agent"]
        if (userAgent !== undefined) span.attribute("user_agent.original", userAgent)
        if (Option.isSome(request.remoteAddress)) span.attribute("client.address", request.remoteAddress.value)
        return Effect.flatMap(Effect.exit(Effect.withParentSpan(app, span)), (exit) => {
          span.attribute("http.response.status_code", HttpServerError.exitResponse(exit).status)
          return exit
        })
      }
    )
  })
