/**
 * One line per request, at info, once its response is ready: the method, the path, the
 * names of the query parameters (`RequestTarget`) and the status (`http.path=/api/v1/cases
 * http.query=q,limit`). Never the query's values, and never a failure's cause, both of which
 * the platform's `HttpMiddleware.logger` writes: failures worth a cause are logged where they
 * are handled (`ApiFailures`), and the rest — an unknown route, a client gone away — are told
 * by their status.
 *
 * Like the platform's logger, it stays quiet under `HttpMiddleware.withLoggerDisabled`.
 */
import { type HttpApp, HttpMiddleware, HttpServerError, HttpServerRequest } from "@effect/platform"
import { Context, Effect } from "effect"
import * as RequestTarget from "./RequestTarget.js"

const fieldsOf = (request: HttpServerRequest.HttpServerRequest, status: number): Record<string, unknown> => {
  const { path, queryNames } = RequestTarget.describe(request.url)
  return queryNames === undefined
    ? { "http.method": request.method, "http.path": path, "http.status": status }
    : { "http.method": request.method, "http.path": path, "http.query": queryNames, "http.status": status }
}

export const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    return Effect.withLogSpan(
      Effect.flatMap(Effect.exit(app), (exit) =>
        fiber.getFiberRef(HttpMiddleware.loggerDisabled)
          ? exit
          : Effect.zipRight(
            Effect.annotateLogs(
              Effect.log("Sent HTTP response"),
              fieldsOf(request, HttpServerError.exitResponse(exit).status)
            ),
            exit
          )),
      "http"
    )
  })
