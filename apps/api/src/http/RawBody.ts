/**
 * A request's body as the bytes that arrived, for endpoints that must check a signature
 * before parsing anything. The body limit applies while reading: past it, 413 (and the
 * rest of the body is read into nothing, see `DrainingRequest`).
 */
import { HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { isReadCutOff, tooLarge } from "./ApiFailures.js"

export const rawBody = (limitBytes: number) =>
  HttpServerRequest.HttpServerRequest.pipe(
    Effect.flatMap((request) => request.arrayBuffer),
    Effect.map((buffer) => new Uint8Array(buffer)),
    Effect.catchTag("RequestError", (error) =>
      isReadCutOff(error)
        ? Effect.fail(tooLarge(limitBytes))
        // The client went away mid-upload: nobody is left to answer.
        : Effect.interrupt)
  )
