/**
 * Requests a page on another site makes a visitor's browser send are refused when they could
 * change something: an unsafe method (POST, PUT, PATCH, DELETE) with `Sec-Fetch-Site:
 * cross-site` answers 403 `Forbidden` before anything else looks at it. Such a request can
 * only come from a page elsewhere acting with the visitor's browser: a form signing them in
 * to someone else's account (login CSRF), or a logout clearing their refresh cookie.
 *
 * Browsers send the header on every request; servers — webhook senders, the console's own
 * server, scripts — send none, and pass. So do `same-origin`, `same-site` and `none` (an
 * address typed or bookmarked). Safe methods pass too: they change nothing, and a page on
 * another site cannot read their answers.
 *
 * Checked first thing by the HttpApi middleware (`ApiFailures`), for every route, unknown
 * ones included. Not at the edge: the edge's middlewares wrap the server's step that
 * finishes an answer (request id, headers, error shape) and sends it, so an answer made
 * there would leave without any of that.
 * Answered as a response in the contract's error shape rather than as a declared error:
 * declaring `Forbidden` for every endpoint would tell each public one's documentation that
 * roles apply to it.
 */
import { type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Forbidden } from "@nestfleet/domain/Errors"
import { Schema } from "effect"

const unsafeMethods: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"])

export const isCrossSite = (request: HttpServerRequest.HttpServerRequest): boolean =>
  unsafeMethods.has(request.method) && request.headers["sec-fetch-site"]?.trim().toLowerCase() === "cross-site"

/** Encoded once, as HttpApi would encode the error; `ErrorBodies` adds the request id. */
export const refused = HttpServerResponse.unsafeJson(
  Schema.encodeSync(Forbidden)(new Forbidden({ message: "Cross-site requests are refused" })),
  { status: 403 }
)
