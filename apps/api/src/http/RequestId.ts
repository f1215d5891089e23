/**
 * Every request gets an id: the caller's `x-request-id` when it is a short, plain token (a
 * proxy may have set it; see `isAcceptableRequestId`), else a new one. It is on every log
 * line of the request, in the response headers, and in every error body (see ErrorBodies).
 */
import { HttpApp, HttpMiddleware, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { isAcceptableRequestId, requestIdHeader } from "@nestfleet/domain/RequestId"
import { Context, Effect } from "effect"
import { randomUUID } from "node:crypto"

export class RequestId extends Context.Tag("@nestfleet/api/RequestId")<RequestId, string>() {}

export const middleware = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const incoming = request.headers[requestIdHeader]
    const id = incoming !== undefined && isAcceptableRequestId(incoming) ? incoming : randomUUID()
    yield* HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.succeed(HttpServerResponse.setHeader(response, requestIdHeader, id))
    )
    return yield* app.pipe(Effect.provideService(RequestId, id), Effect.annotateLogs("requestId", id))
  })
)
