/**
 * One line per request, at info, once its response is ready: the method, the path, the
 * *names* of the query parameters and the status (`http.path=/api/v1/cases
 * http.query=q,limit`). Never the query's values: a mistaken `?access_token=` or a `q=`
 * search with a customer's words would otherwise land in the log. Nor a failure's cause,
 * which the platform's `HttpMiddleware.logger` writes with the whole URL: failures worth
 * a cause are logged where they are handled (`ApiFailures`), and the rest — an unknown
 * route, a client gone away — are told by their status.
 *
 * Like the platform's logger, it stays quiet under `HttpMiddleware.withLoggerDisabled`.
 */
import { type HttpApp, HttpMiddleware, HttpServerError, HttpServerRequest } from "@effect/platform"
import { Context, Effect } from "effect"

/**
 * A name as clients write them: short, plain characters. Anything else — a token pasted
 * where a name goes (`?eyJhbGciOi…`) — is written as `(withheld)`.
 */
const plainName = /^[A-Za-z0-9_.[\]-]{1,32}$/

const nameOf = (parameter: string) => {
  const equals = parameter.indexOf("=")
  const raw = equals < 0 ? parameter : parameter.slice(0, equals)
  try {
    const name = decodeURIComponent(raw.replaceAll("+", " "))
    return plainName.test(name) ? name : "(withheld)"
  } catch {
    return "(withheld)"
  }
}

/** `q,limit` for `q=…&limit=…&q=…`: each name once, in order. */
const queryNames = (query: string): string =>
  [...new Set(query.split("&").filter((parameter) => parameter !== "").map(nameOf))].join(",")

const fieldsOf = (request: HttpServerRequest.HttpServerRequest, status: number): Record<string, unknown> => {
  const url = request.url
  const queryAt = url.indexOf("?")
  return queryAt < 0
    ? { "http.method": request.method, "http.path": url, "http.status": status }
    : {
      "http.method": request.method,
      "http.path": url.slice(0, queryAt),
      "http.query": queryNames(url.slice(queryAt + 1)),
      "http.status": status
    }
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
