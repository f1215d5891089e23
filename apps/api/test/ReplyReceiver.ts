/**
 * A local HTTP server standing in for a customer's system on a webhook channel: it checks
 * each reply's Standard Webhooks signature with the channel's secret and, like a careful
 * receiver, shows a reply once per `webhook-id`. What it answers is scripted per request.
 */
import { Effect } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** Standard Webhooks, checked from the specification: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>. */
const verifies = (secret: string, headers: Http.IncomingHttpHeaders, body: string) => {
  const [id, timestamp, signature] = [headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]]
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signature !== "string") return false
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64")
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest()
  return signature.split(" ").some((versioned) => {
    const given = Buffer.from(versioned.replace(/^v1,/, ""), "base64")
    return versioned.startsWith("v1,") && given.length === expected.length && timingSafeEqual(given, expected)
  })
}

/** What the receiver does with the n-th request (from 1): answer a status, or drop the connection unanswered. */
export type Answer = { readonly status: number } | "drop"

export interface Received {
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
  readonly verified: boolean
}

/**
 * A receiver on a free port. `secret` is read when a request arrives: the channel's, which is
 * known once the channel exists (after the receiver's URL went into its config).
 */
export const make = (secret: () => string, script: (n: number) => Answer = () => ({ status: 200 })) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly requests: Array<Received>; readonly shown: Map<string, unknown> }>((resume) => {
      const requests: Array<Received> = []
      const shown = new Map<string, unknown>()
      const server = Http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8")
          const verified = verifies(secret(), request.headers, body)
          requests.push({ headers: request.headers, body, verified })
          const answer = script(requests.length)
          if (answer === "drop") return request.socket.destroy()
          if (verified && answer.status < 300) shown.set(String(request.headers["webhook-id"]), JSON.parse(body))
          response.writeHead(answer.status, { "content-type": "application/json" }).end("{}")
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed(Object.assign(server, { url: `http://127.0.0.1:${port}/replies`, requests, shown })))
      })
    }),
    (server) => Effect.async<void>((resume) => void (server as unknown as Http.Server).close(() => resume(Effect.void)))
  )
