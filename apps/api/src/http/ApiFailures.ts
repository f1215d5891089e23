/**
 * Turns failures that are not the endpoints' own into errors the contract declares for
 * every endpoint, so HttpApi encodes them like any other:
 *
 * - a body over the limit → 413 `PayloadTooLarge`: refused on its `content-length`
 *   before it is read, or cut off while reading when it is streamed without one (the rest
 *   is read into nothing, so the answer arrives: see `DrainingRequest`);
 * - a body that is not JSON → 400 `HttpApiDecodeError`;
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
import { InternalServerError, PayloadTooLarge, unexpectedFailureMessage } from "@nestfleet/domain/Errors"
import { Cause, Effect, Option, Schema } from "effect"

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

const isInvalidJson = (error: unknown) =>
  HttpServerError.isServerError(error) && error._tag === "RequestError" && error.cause instanceof SyntaxError

/**
 * Failures that stay as they are: errors the contract declares (HttpApi encodes them), and
 * the platform's own answers (an empty 404, 499 or 503 that ErrorBodies fills in).
 */
const leaveToPlatform = (cause: Cause.Cause<unknown>) => Effect.failCause(cause as Cause.Cause<never>)

const mapFailures = (maxBodyBytes: number) =>
(
  cause: Cause.Cause<unknown>
): Effect.Effect<never, PayloadTooLarge | InternalServerError | HttpApiError.HttpApiDecodeError> => {
  if (Cause.isInterruptedOnly(cause)) return leaveToPlatform(cause)
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    // Declared errors pass through as they are; HttpApi encodes them with their status.
    if (isDeclared(error)) return leaveToPlatform(cause)
    if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") return leaveToPlatform(cause)
    if (isReadCutOff(error)) return Effect.fail(tooLarge(maxBodyBytes))
    if (isInvalidJson(error)) {
      return Effect.fail(new HttpApiError.HttpApiDecodeError({ message: "The request body is not valid JSON", issues: [] }))
    }
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect) && HttpServerResponse.isServerResponse(defect.value)) return leaveToPlatform(cause)
  // HttpApi reads a JSON body as part of decoding the payload, and a failed read is a defect there.
  if (Option.isSome(defect) && isReadCutOff(defect.value)) return Effect.fail(tooLarge(maxBodyBytes))
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
        Effect.provideService(HttpIncomingMessage.MaxBodySize, Option.some(FileSystem.Size(maxBodyBytes))),
        Effect.catchAllCause(mapFailures(maxBodyBytes))
      )
    }), { withContext: true })
