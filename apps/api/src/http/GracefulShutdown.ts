/**
 * Stopping the HTTP server without dropping requests: stop accepting connections, let the
 * requests in flight finish, and make every connection close after its current response
 * (Node would otherwise keep idle keep-alive connections, and their clients, waiting).
 * Whatever is still open after the shutdown timeout is cut.
 */
import { Duration, Effect } from "effect"
import type * as Http from "node:http"

export const drainOnClose = (server: Http.Server, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const inFlight = new Set<Http.ServerResponse>()
    let draining = false
    const track = (_request: Http.IncomingMessage, response: Http.ServerResponse) => {
      if (draining) response.shouldKeepAlive = false
      inFlight.add(response)
      response.once("close", () => inFlight.delete(response))
    }
    server.prependListener("request", track)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (!server.listening) return
        draining = true
        for (const response of inFlight) {
          if (!response.headersSent) response.shouldKeepAlive = false
        }
        yield* Effect.logInfo(`HTTP server draining ${inFlight.size} request(s)`)
        const closed = Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeIdleConnections()
        })
        // Finalizers run uninterruptibly; the wait must be interruptible for its timeout to end it.
        yield* Effect.interruptible(closed).pipe(
          Effect.timeoutTo({
            duration: timeout,
            onSuccess: () => Effect.logInfo("HTTP server stopped"),
            onTimeout: () =>
              Effect.sync(() => server.closeAllConnections()).pipe(
                Effect.zipRight(Effect.logWarning("HTTP server stopped; requests still running were cut off"))
              )
          }),
          Effect.flatten
        )
        server.off("request", track)
      })
    )
  })
