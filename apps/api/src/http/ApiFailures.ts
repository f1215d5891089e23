/**
 * The one HttpApi middleware: it refuses what the headers alone condemn, reads JSON bodies
 * the way they can be stored (see `StorableJson`), and turns failures that are not the
 * endpoints' own into errors the contract declares, so HttpApi encodes them like any other:
 *
 * - an unsafe method from a page on another site → 403 `Forbidden`, before anything else
 *   (see `CrossSite`);
 * - a body over the limit → 413 `PayloadTooLarge`: refused on its `content-length`
 *   before it is read, or cut off while reading when it is streamed without one (the rest
 *   is read into nothing, so the answer arrives: see `DrainingRequest`);
 * - a body sent as anything but JSON → 415 `UnsupportedMediaType`, before it is read (see
 *   `MediaType`);
 * - a body that is not JSON, or nests deeper than `StorableJson.maxDepth` → 400
 *   `HttpApiDecodeError` saying where it breaks, logged by the access log only (bad input is
 *   the client's, not ours);
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
  HttpServerResponse,
  Multipart
} from "@effect/platform"
import { NestFleetApi } from "@nestfleet/domain/Api"
import * as DecodeIssues from "@nestfleet/domain/DecodeIssues"
import {
  InternalServerError,
  PayloadTooLarge,
  unexpectedFailureMessage,
  type UnsupportedMediaType
} from "@nestfleet/domain/Errors"
import { Cause, Effect, FiberRef, HashSet, Logger, Option, Schema } from "effect"
import * as CrossSite from "./CrossSite.js"
import * as MediaType from "./MediaType.js"
import { NestsTooDeep, withStorableJson } from "./StorableJson.js"

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

const isTooDeep = (error: unknown): error is HttpServerError.RequestError =>
  HttpServerError.isServerError(error) && error._tag === "RequestError" && error.cause instanceof NestsTooDeep

const tooDeep = (error: HttpServerError.RequestError) =>
  new HttpApiError.HttpApiDecodeError({
    message: `The request body nests deeper than ${(error.cause as NestsTooDeep).maxDepth} levels`,
    issues: []
  })

type ReadFailure = PayloadTooLarge | HttpApiError.HttpApiDecodeError

/** A JSON body that could not be read, as the client's failure; none for any other error. */
const jsonReadFailure = (maxBodyBytes: number, error: unknown): Option.Option<ReadFailure> => {
  if (isReadCutOff(error)) return Option.some(tooLarge(maxBodyBytes))
  if (isInvalidJson(error)) return Option.some(invalidJson(error))
  if (isTooDeep(error)) return Option.some(tooDeep(error))
  return Option.none()
}

/**
 * A multipart body HttpApi failed to read. `MediaType` refuses every multipart body before
 * it is read, so this is for what slips past it: a limit reached is the body's size, any
 * other failure to parse is the client's bad input. A failure to write a part to disk
 * (`InternalError`) is ours, and stays a 500.
 */
const multipartFailure = (maxBodyBytes: number, error: unknown): Option.Option<ReadFailure> => {
  if (!(error instanceof Multipart.MultipartError)) return Option.none()
  switch (error.reason) {
    case "BodyTooLarge":
    case "FieldTooLarge":
    case "FileTooLarge":
    case "TooManyParts":
      return Option.some(tooLarge(maxBodyBytes))
    case "Parse":
      return Option.some(
        new HttpApiError.HttpApiDecodeError({
          message: "The request body could not be read; send it as JSON with Content-Type: application/json",
          issues: []
        })
      )
    case "InternalError":
      return Option.none()
  }
}

/** A defect HttpApi made of failing to read a body, as the client's failure; none for any other. */
export const bodyReadFailure = (maxBodyBytes: number, defect: unknown): Option.Option<ReadFailure> =>
  Option.orElse(jsonReadFailure(maxBodyBytes, defect), () => multipartFailure(maxBodyBytes, defect))

/**
 * What a body that is not an object at all comes down to, when the headers tell: something
 * other than JSON named (by HttpApi's rule; a body sent so is refused with 415 before this,
 * so here nothing was sent but the type), or nothing sent.
 */
const bodyProblem = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  if (!MediaType.readAsJson(request.headers["content-type"])) {
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
 * The cause of a 500, for the log only. Effect's own tracer logger writes every log line as
 * an event on the current span, cause and all, and spans leave the process for the OTLP
 * collector: a statement's values or a message quoting the request would go with them. The
 * program's logging (`@nestfleet/observability/Logging`) replaces it with one that writes no
 * cause; this keeps the cause off the span wherever that replacement is not installed too.
 * The request's span says it failed (see `RequestSpan`), and the log line carries its ids.
 */
const logUnexpected = (cause: Cause.Cause<unknown>) =>
  Effect.locallyWith(
    Effect.logError("Request failed unexpectedly", cause),
    FiberRef.currentLoggers,
    HashSet.remove(Logger.tracerLogger)
  )

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
    const readFailure = jsonReadFailure(maxBodyBytes, error)
    if (Option.isSome(readFailure)) return Effect.fail(readFailure.value)
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) {
    if (HttpServerResponse.isServerResponse(defect.value)) return leaveToPlatform(cause)
    // HttpApi reads a body as part of decoding the payload, and a failed read is a defect there.
    const readFailure = bodyReadFailure(maxBodyBytes, defect.value)
    if (Option.isSome(readFailure)) return Effect.fail(readFailure.value)
  }
  return Effect.zipRight(logUnexpected(cause), Effect.fail(internalError))
}

/**
 * What the headers alone condemn, before any endpoint runs or any body is read: a body too
 * large to read, then one not sent as JSON. Size first: a body too large is answered with
 * the connection closed where reading the rest is not worth it (see `ErrorBodies`),
 * whatever its type.
 */
const refusalOf = (
  request: HttpServerRequest.HttpServerRequest,
  maxBodyBytes: number
): Option.Option<PayloadTooLarge | UnsupportedMediaType> => {
  if (Number(request.headers["content-length"] ?? 0) > maxBodyBytes) return Option.some(tooLarge(maxBodyBytes))
  if (MediaType.isUnsupported(request)) return Option.some(MediaType.unsupportedMediaType)
  return Option.none()
}

export const layer = (maxBodyBytes: number) =>
  HttpApiBuilder.middleware(NestFleetApi, (app) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (CrossSite.isCrossSite(request)) return CrossSite.refused
      const refusal = refusalOf(request, maxBodyBytes)
      if (Option.isSome(refusal)) return yield* refusal.value
      return yield* app.pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, withStorableJson(request)),
        Effect.provideService(HttpIncomingMessage.MaxBodySize, Option.some(FileSystem.Size(maxBodyBytes))),
        Effect.catchAllCause(mapFailures(maxBodyBytes, request))
      )
    }), { withContext: true })
