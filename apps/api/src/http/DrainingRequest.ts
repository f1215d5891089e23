/**
 * Node's request, except that destroying it before its body has all arrived — which is how
 * the platform's body reader stops at the body limit — reads the rest of the body into
 * nothing instead of destroying the socket. The 413 then reaches the sender; a destroyed
 * socket (or one closed with unread bytes) resets the connection, and the sender sees a
 * network error instead. A sender that goes on past `discardAtMostBytes` is cut off.
 *
 * Destroying with an error (Node's own way of giving up on a request) is left as it is. The
 * answer keeps the connection open while the rest is read (see `ErrorBodies`).
 */
import * as Http from "node:http"

/** How much of a refused body is read and thrown away before the connection is cut. */
export const discardAtMostBytes = 8 * 1024 * 1024

export class DrainingIncomingMessage extends Http.IncomingMessage {
  #draining = false

  override destroy(error?: Error): this {
    // Ended: nothing left to read. `complete` would not do: all of a body may have arrived
    // and still sit unread in the stream, and destroying it then destroys the socket too.
    if (error != null || this.readableEnded || this.#draining || this.socket === null || this.socket.destroyed) {
      return super.destroy(error)
    }
    this.#draining = true
    // Whoever was reading has given up on the body: nothing more is kept.
    this.removeAllListeners("data")
    let discarded = 0
    this.on("data", (chunk: Buffer) => {
      discarded += chunk.length
      if (discarded > discardAtMostBytes) super.destroy()
    })
    this.resume()
    return this
  }
}
