/**
 * A TCP proxy between a client under test and a real server, which a test can slow down
 * or cut — the way a database goes away in production, without stopping the shared one.
 */
import { Effect, type Fiber, Schedule } from "effect"
import * as Net from "node:net"

export interface TcpProxy {
  readonly port: number
  /** Refuses new connections and drops the open ones. */
  readonly cut: Effect.Effect<void>
  /** Accepts connections again. */
  readonly restore: Effect.Effect<void>
  /** Holds every chunk this long before passing it on. */
  readonly setDelay: (millis: number) => Effect.Effect<void>
  /** How many chunks clients have sent so far: a test waits on it to know a query is under way. */
  readonly clientChunks: Effect.Effect<number>
}

export const make = (target: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(
    Effect.async<{ readonly proxy: TcpProxy; readonly close: () => void }>((resume) => {
      const sockets = new Set<Net.Socket>()
      let delay = 0
      let up = true
      let clientChunks = 0
      const relay = (from: Net.Socket, to: Net.Socket, fromClient: boolean) =>
        from.on("data", (chunk) => {
          if (fromClient) clientChunks++
          if (delay === 0) to.write(chunk)
          else setTimeout(() => to.writable && to.write(chunk), delay)
        })
      const server = Net.createServer((client) => {
        if (!up) return client.destroy()
        const upstream = Net.connect(target.port, target.host)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => {
            client.destroy()
            upstream.destroy()
          })
        }
        relay(client, upstream, true)
        relay(upstream, client, false)
        client.on("close", () => upstream.destroy())
        upstream.on("close", () => client.destroy())
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as Net.AddressInfo).port
        const dropAll = () => {
          for (const socket of sockets) socket.destroy()
        }
        resume(Effect.succeed({
          proxy: {
            port,
            cut: Effect.sync(() => {
              up = false
              dropAll()
            }),
            restore: Effect.sync(() => {
              up = true
            }),
            setDelay: (millis) =>
              Effect.sync(() => {
                delay = millis
              }),
            clientChunks: Effect.sync(() => clientChunks)
          },
          close: () => {
            dropAll()
            server.close()
          }
        }))
      })
    }),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ proxy }) => proxy))

/**
 * Forks `effect` and answers once it has sent something to the server through `proxy`: from
 * then on it is in flight (a request waiting on its query, say).
 */
export const forkInFlight = <A, E, R>(proxy: TcpProxy, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = yield* proxy.clientChunks
    const fiber: Fiber.RuntimeFiber<A, E> = yield* Effect.fork(effect)
    yield* proxy.clientChunks.pipe(
      Effect.filterOrFail((chunks) => chunks > before),
      Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo("10 seconds"))),
      Effect.orDie
    )
    return fiber
  })
