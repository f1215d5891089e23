/**
 * The one HttpApi middleware: it reads JSON bodies the way they can be stored (see
 * `StorableJson`), and turns failures that are not the endpoints' own into errors the
 * contract declares for every endpoint, so HttpApi encodes them like any other:
 *
 * - a body over the limit → 413 `PayloadTooLarge`: refused on its `content-length`
 *   before it is read, or cut off while reading when it is streamed without one (the rest
 *   is read into nothing, so the answer arrives: see `DrainingRequest`);
 * - a body that is not JSON → 400 `HttpApiDecodeError` saying where it breaks, logged by
 *   the access log only (bad input is the client's, not ours);
 * - a payload, path or query that does not fit its Schema → the route's 400
 *   `HttpApiDecodeError`, told again without the values sent (see `withoutValues`);
 * - a defect, or a failure no endpoint declares (a `SqlError` that escaped a service) →
 *   logged with its cause, answered 500 `InternalServerError`, which never carries it.
 */
import {
  FileSystem,
  HttpApi,
  HttpApiBuilder,
  HttpApiError,
  HttpIncomingMessage,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { NestFleetApi } from "@nestfleet/domain/Api"
import * as DecodeIssues from "@nestfleet/domain/DecodeIssues"
import { InternalServerError, PayloadTooLarge, unexpectedFailureMessage } from "@nestfleet/domain/Errors"
import { Cause, Effect, Option, Schema } from "effect"
import { withStorableJson } from "./StorableJson.js"

export const tooLarge = (limitBytes: number) =>
  new PayloadTooLarge({ message: `The request body is larger than the limit of ${limitBytes} bytes`, limitBytes })

const internalError = new InternalServerError({ message: unexpectedFailureMessage })

/** True for an error some endpoint of the contract declares; HttpApi encodes those. */
const isDeclared: (error: unknown) => boolean = (() => {
  const guards: Array<(error: unknown) => boolean> = [Schema.is(NestFleetApi.errorSchema)]
  HttpApi.reflect(NestFleetApi, {
    onGroup: () => {},
    onEndpoint: ({ errors }) => {
      for (const { ast } of errors.values()) {
        if (Option.isSome(ast)) guards.push(Schema.is(Schema.make(ast.value)))
      }
    }
  })
  return (error) => guards.some((guard) => guard(error))
})()

export const isReadCutOff = (error: unknown) =>
  HttpServerError.isServerError(error) && error._tag === "RequestError" &&
  error.cause instanceof Error && error.cause.message === "maxBytes exceeded"

const isInvalidJson = (error: unknown): error is HttpServerError.RequestError =>
  HttpServerError.isServerError(error) && error._tag === "RequestError" && error.cause instanceof SyntaxError

/** Where the text stops being JSON, never the text itself (V8's message may quote it). */
const invalidJson = (error: HttpServerError.RequestError) =>
  new HttpApiError.HttpApiDecodeError({
    message: `The request body is not valid JSON: ${DecodeIssues.jsonSyntaxProblem(error.cause)}`,
    issues: []
  })

/**
 * What a body that is not an object at all comes down to, when the headers tell: nothing
 * sent, or something other than JSON sent (HttpApi reads `text/*` as a string, which fails
 * as a whole, and a whole string is the one thing the answer must not repeat).
 */
const bodyProblem = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const contentType = request.headers["content-type"]
  if (contentType !== undefined && !contentType.toLowerCase().includes("json")) {
    return "The request body must be JSON, sent with Content-Type: application/json"
  }
  const contentLength = request.headers["content-length"]
  const empty = contentLength === "0" || (contentLength === undefined && request.headers["transfer-encoding"] === undefined)
  return empty ? "The request body is empty; this endpoint expects a JSON object" : undefined
}

/**
 * A decode error told again without the values sent: each issue's path and the rule it
 * broke (see `DecodeIssues`), and a message made of those instead of Effect's schema tree.
 *
 * Re-derived here from the issues because there is nowhere earlier to hook: HttpApi turns
 * the `ParseError` into this error inside the route, for the payload, the path and the URL
 * params alike, and only the error comes out. The issues are enough: each has a path and a
 * message whose value-bearing part has a known form. Doing it here covers every endpoint,
 * present and future, with no Schema annotated for it.
 */
const withoutValues = (
  error: HttpApiError.HttpApiDecodeError,
  request: HttpServerRequest.HttpServerRequest
): HttpApiError.HttpApiDecodeError => {
  const issues = DecodeIssues.withoutValues(error.issues)
  const wholeBody = issues.some((issue) => issue.path.length === 0 && issue._tag === "Type")
  const problem = (wholeBody ? bodyProblem(request) : undefined) ??
    `The request is not valid: ${DecodeIssues.describe(issues)}`
  return new HttpApiError.HttpApiDecodeError({ issues, message: problem })
}

/**
 * Failures that stay as they are: errors the contract declares (HttpApi encodes them), and
 * the platform's own answers (an empty 404, 499 or 503 that ErrorBodies fills in).
 */
const leaveToPlatform = (cause: Cause.Cause<unknown>) => Effect.failCause(cause as Cause.Cause<never>)

const mapFailures = (maxBodyBytes: number, request: HttpServerRequest.HttpServerRequest) =>
(
  cause: Cause.Cause<unknown>
): Effect.Effect<never, PayloadTooLarge | InternalServerError | HttpApiError.HttpApiDecodeError> => {
  if (Cause.isInterruptedOnly(cause)) return leaveToPlatform(cause)
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof HttpApiError.HttpApiDecodeError) return Effect.fail(withoutValues(error, request))
    // Declared errors pass through as they are; HttpApi encodes them with their status.
    if (isDeclared(error)) return leaveToPlatform(cause)
    if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") return leaveToPlatform(cause)
    if (isReadCutOff(error)) return Effect.fail(tooLarge(maxBodyBytes))
    if (isInvalidJson(error)) return Effect.fail(invalidJson(error))
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect) && HttpServerResponse.isServerResponse(defect.value)) return leaveToPlatform(cause)
  // HttpApi reads a JSON body as part of decoding the payload, and a failed read is a defect there.
  if (Option.isSome(defect) && isReadCutOff(defect.value)) return Effect.fail(tooLarge(maxBodyBytes))
  if (Option.isSome(defect) && isInvalidJson(defect.value)) return Effect.fail(invalidJson(defect.value))
  return Effect.zipRight(Effect.logError("Request failed unexpectedly", cause), Effect.fail(internalError))
}

export const layer = (maxBodyBytes: number) =>
  HttpApiBuilder.middleware(NestFleetApi, (app) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (Number(request.headers["content-length"] ?? 0) > maxBodyBytes) {
        return yield* tooLarge(maxBodyBytes)
      }
      return yield* app.pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, withStorableJson(request)),
        Effect.provideService(HttpIncomingMessage.MaxBodySize, Option.some(FileSystem.Size(maxBodyBytes))),
        Effect.catchAllCause(mapFailures(maxBodyBytes, request))
      )
    }), { withContext: true })
