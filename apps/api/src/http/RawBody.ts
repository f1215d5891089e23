/**
 * A request's body as the bytes that arrived, for endpoints that must check a signature
 * before parsing anything. The body limit applies while reading: past it, 413.
 *
 * Read from Node's request directly: the platform's reader destroys the request when a body
 * runs over its limit, and with it the socket, so a body streamed without a content-length
 * (chunked) would get a reset connection, not the 413. Here reading stops, the answer is
 * sent, and the connection closes after it, never reading the rest.
 */
import { HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import type { PayloadTooLarge } from "@nestfleet/domain/Errors"
import { Effect } from "effect"
import type * as Http from "node:http"
import { tooLarge } from "./ApiFailures.js"

/** At most `limitBytes` of `incoming`; interrupted when the client goes away mid-upload (nobody is left to answer). */
const readAtMost = (incoming: Http.IncomingMessage, limitBytes: number, onTooLarge: () => void) =>
  Effect.async<Uint8Array, PayloadTooLarge>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const stop = () => {
      incoming.off("data", onData)
      incoming.off("end", onEnd)
      incoming.off("error", onGone)
      incoming.off("close", onGone)
    }
    function onData(chunk: Buffer) {
      size += chunk.length
      if (size <= limitBytes) return void chunks.push(chunk)
      stop()
      incoming.pause()
      onTooLarge()
      resume(Effect.fail(tooLarge(limitBytes)))
    }
    function onEnd() {
      stop()
      resume(Effect.succeed(Buffer.concat(chunks, size)))
    }
    function onGone() {
      stop()
      resume(Effect.interrupt)
    }
    incoming.on("data", onData)
    incoming.on("end", onEnd)
    incoming.on("error", onGone)
    incoming.on("close", onGone)
    return Effect.sync(stop)
  })

export const rawBody = (limitBytes: number) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    readAtMost(NodeHttpServerRequest.toIncomingMessage(request), limitBytes, () =>
      // Node merges this into the headers the answer is written with, and closes the
      // connection once it is sent rather than reading the rest of the body to reuse it.
      NodeHttpServerRequest.toServerResponse(request).setHeader("connection", "close")))
