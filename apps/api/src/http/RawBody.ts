/**
 * A request's body as the bytes that arrived, for endpoints that must check a signature
 * before parsing anything. The body limit applies while reading: past it, 413.
 *
 * Read from Node's request directly: the platform's reader destroys the request when a body
 * runs over its limit, and with it the socket, so a body streamed without a content-length
 * (chunked) got a reset connection, not the 413. Here the 413 is answered at once while the
 * rest of the body is read and thrown away, so the sender sees the answer rather than a
 * reset (closing a socket with unread bytes resets it). A sender that goes on past
 * `discardAtMostBytes` is cut off.
 */
import { HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import type { PayloadTooLarge } from "@nestfleet/domain/Errors"
import { Effect } from "effect"
import type * as Http from "node:http"
import { tooLarge } from "./ApiFailures.js"

/** How much of a body over the limit is read and thrown away before the connection is cut. */
export const discardAtMostBytes = 8 * 1024 * 1024

/** At most `limitBytes` of `incoming`; interrupted when the client goes away mid-upload (nobody is left to answer). */
const readAtMost = (incoming: Http.IncomingMessage, limitBytes: number) =>
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
      chunks.length = 0
      discard(incoming, size)
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

/** Reads the rest of a refused body into nothing, up to `discardAtMostBytes`. */
const discard = (incoming: Http.IncomingMessage, alreadyRead: number) => {
  let discarded = alreadyRead
  const onData = (chunk: Buffer) => {
    discarded += chunk.length
    if (discarded > discardAtMostBytes) {
      done()
      incoming.destroy()
    }
  }
  const done = () => {
    incoming.off("data", onData)
    incoming.off("end", done)
    incoming.off("close", done)
    incoming.off("error", done)
  }
  incoming.on("data", onData)
  incoming.on("end", done)
  incoming.on("close", done)
  incoming.on("error", done)
}

export const rawBody = (limitBytes: number) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    readAtMost(NodeHttpServerRequest.toIncomingMessage(request), limitBytes))
