/**
 * A request's body as the bytes that arrived, for endpoints that must check a signature
 * before parsing anything. The body limit applies while reading: past it, 413.
 */
import { HttpServerError, HttpServerRequest } from "@effect/platform"
import { PayloadTooLarge } from "@nestfleet/domain/Errors"
import { Effect } from "effect"

const isCutOff = (error: HttpServerError.RequestError) =>
  error.cause instanceof Error && error.cause.message === "maxBytes exceeded"

export const rawBody = (limitBytes: number) =>
  HttpServerRequest.HttpServerRequest.pipe(
    Effect.flatMap((request) => request.arrayBuffer),
    Effect.map((buffer) => new Uint8Array(buffer)),
    Effect.catchTag("RequestError", (error) =>
      isCutOff(error)
        ? Effect.fail(
          new PayloadTooLarge({ message: `The request body is larger than the limit of ${limitBytes} bytes`, limitBytes })
        )
        // The client went away mid-upload: nobody is left to answer.
        : Effect.interrupt)
  )
