/**
 * One error shape for every 4xx/5xx: `{ _tag, message, requestId, ...details }`.
 *
 * Errors in the contract are already encoded by HttpApi (see ApiFailures); this adds the
 * request id to them just before the response leaves, and a `Retry-After` header to those
 * that say how long to wait (`retryAfterSeconds`). Responses the platform makes on
 * its own — an unknown route, a client gone away, a server stopping — arrive with an
 * empty body and get the same shape here.
 */
import { Headers, HttpApp, type HttpBody, HttpMiddleware, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { unexpectedFailureMessage } from "@nestfleet/domain/Errors"
import { Effect } from "effect"
import { discardAtMostBytes } from "./DrainingRequest.js"
import { RequestId } from "./RequestId.js"
import * as RequestTarget from "./RequestTarget.js"

const statusTags: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  413: "PayloadTooLarge",
  415: "UnsupportedMediaType",
  422: "UnprocessableEntity",
  429: "TooManyRequests",
  499: "ClientClosedRequest",
  500: "InternalServerError",
  502: "BadGateway",
  503: "ServiceUnavailable",
  504: "GatewayTimeout"
}

const defaultMessage = (request: HttpServerRequest.HttpServerRequest, status: number) => {
  switch (status) {
    case 404:
      // The path only: the query's values are the client's, and may be secrets (see RequestTarget).
      return `No route for ${request.method} ${RequestTarget.describe(request.url).path}`
    case 503:
      return "The server is unavailable or shutting down"
    case 500:
      return unexpectedFailureMessage
    default:
      return `The request failed with HTTP ${status}`
  }
}

const decoder = new TextDecoder()

const jsonObject = (body: HttpBody.HttpBody): Record<string, unknown> | undefined => {
  if (body._tag !== "Uint8Array" || !body.contentType.startsWith("application/json")) return undefined
  try {
    const parsed: unknown = JSON.parse(decoder.decode(body.body))
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? parsed as Record<string, unknown>
      : undefined
  } catch {
    return undefined
  }
}

const shape = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse,
  requestId: string
): HttpServerResponse.HttpServerResponse => {
  if (response.status < 400) return response
  const body = jsonObject(response.body)
  const shaped = body !== undefined && typeof body._tag === "string" && typeof body.message === "string"
    ? { ...body, requestId }
    : {
      _tag: statusTags[response.status] ?? "HttpError",
      message: defaultMessage(request, response.status),
      ...body,
      requestId
    }
  const shapedResponse = HttpServerResponse.unsafeJson(shaped, {
    status: response.status,
    headers: typeof body?.retryAfterSeconds === "number"
      ? Headers.set(response.headers, "retry-after", String(body.retryAfterSeconds))
      : response.headers
  })
  return response.status === 413 && !worthDraining(request)
    ? HttpServerResponse.setHeader(shapedResponse, "connection", "close")
    : shapedResponse
}

/**
 * Whether the rest of a refused body is read into nothing, which keeps the connection and
 * lets the sender see the answer (closing a socket with unread bytes resets it): yes for a
 * body streamed without a length (see `DrainingRequest`) or declared at most
 * `discardAtMostBytes` (Node reads a declared body out itself); a larger one is not worth
 * reading, and the connection is closed after answering.
 */
const worthDraining = (request: HttpServerRequest.HttpServerRequest) => {
  const declared = request.headers["content-length"]
  return declared === undefined || Number(declared) <= discardAtMostBytes
}

export const middleware = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const requestId = yield* RequestId
    yield* HttpApp.appendPreResponseHandler((request, response) => Effect.succeed(shape(request, response, requestId)))
    return yield* app
  })
)
