/**
 * Request bodies are JSON and nothing else. HttpApi on its own reads what the Content-Type
 * names: `multipart/form-data` (and dies, a 500, on a malformed one),
 * `application/x-www-form-urlencoded` and `text/*` as well as JSON. Those three are what a
 * plain HTML form on another site can send without asking the browser's leave (no CORS
 * preflight), and HttpApi reads the first two into the same fields as JSON, so such a form
 * could sign a visitor in (login CSRF). No endpoint wants them: webhook senders — Standard
 * Webhooks, GitHub set to application/json (the one format we read), Slack's Events API —
 * all send JSON.
 *
 * So a request that carries a body with a Content-Type other than `application/json`
 * (parameters such as `; charset=utf-8` are fine) is refused with 415 before anything reads
 * it (see `ApiFailures`). A body without a Content-Type is read as JSON, as HttpApi does.
 */
import type { HttpServerRequest } from "@effect/platform"
import { UnsupportedMediaType } from "@nestfleet/domain/Errors"

export const unsupportedMediaType = new UnsupportedMediaType({
  message: "Send the body as JSON with Content-Type: application/json"
})

/** Whether a body comes with the request: a length above zero, or one streamed in chunks. */
export const hasBody = (request: HttpServerRequest.HttpServerRequest) =>
  Number(request.headers["content-length"] ?? 0) > 0 || request.headers["transfer-encoding"] !== undefined

/** `application/json; charset=utf-8` → `application/json`; empty when no type is named. */
const essenceOf = (contentType: string) => contentType.split(";")[0]!.trim().toLowerCase()

/** Whether the request carries a body that is not sent as JSON. */
export const isUnsupported = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const contentType = request.headers["content-type"]
  if (contentType === undefined || !hasBody(request)) return false
  const essence = essenceOf(contentType)
  return essence !== "" && essence !== "application/json"
}

/**
 * Whether HttpApi would read a body with this Content-Type as JSON: when none is named, or
 * when it mentions `application/json`. A request with no body gets past `isUnsupported`
 * whatever it names; what is wrong with it is then told by this rule (see `ApiFailures`).
 */
export const readAsJson = (contentType: string | undefined): boolean =>
  contentType === undefined || contentType.trim() === "" || contentType.toLowerCase().includes("application/json")
