/**
 * A local HTTP server standing in for a third party (a customer's webhook receiver, GitHub's
 * REST API, Slack's Web API): it records every request and answers what the test scripts for
 * it, by request number (from 1) and content.
 */
import { Effect } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** An answer, or "drop": the connection closed with no answer, as when a process dies mid-request. */
export type Answer =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly json?: unknown }
  | "drop"

/** The answer to a request, at once or once the test has done what it must first (killed a process, waited). */
export type Script = (request: Received, n: number) => Answer | Promise<Answer>

export const make = (script: Script = () => ({ status: 200 })) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly requests: Array<Received>; readonly server: Http.Server }>((resume) => {
      const requests: Array<Received> = []
      const server = Http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const received = {
            method: request.method ?? "",
            path: request.url ?? "",
            headers: request.headers,
            body: Buffer.concat(chunks).toString("utf8")
          }
          requests.push(received)
          void Promise.resolve(script(received, requests.length)).then((answer) => {
            if (answer === "drop") return request.socket.destroy()
            response.writeHead(answer.status, { "content-type": "application/json", ...answer.headers })
            response.end(JSON.stringify(answer.json ?? {}))
          }, () => request.socket.destroy())
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, requests, server }))
      })
    }),
    ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )
