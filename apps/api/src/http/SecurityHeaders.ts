/**
 * Headers on every answer, errors and the platform's own 404 included:
 *
 * - `Cache-Control: no-store`, unless an answer says otherwise. Auth answers carry tokens,
 *   a channel's creation and rotation carry its secret, and the rest is customers' cases
 *   and personal data; no answer of this API is one a shared or browser cache should keep,
 *   and one rule for all of them cannot be forgotten on the next endpoint.
 * - `X-Content-Type-Options: nosniff`: a browser takes an answer for what its content type
 *   says (JSON stays JSON, even when a customer's text in it looks like HTML).
 */
import { HttpApp, HttpMiddleware, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"

const secure = (response: HttpServerResponse.HttpServerResponse) =>
  HttpServerResponse.setHeaders(response, {
    "cache-control": response.headers["cache-control"] ?? "no-store",
    "x-content-type-options": "nosniff"
  })

export const middleware = HttpMiddleware.make((app) =>
  Effect.zipRight(
    HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(secure(response))),
    app
  )
)
