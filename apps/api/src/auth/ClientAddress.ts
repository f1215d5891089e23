/**
 * The address a request came from, for login throttling. Behind our own proxy (TRUST_PROXY)
 * it is the last X-Forwarded-For entry — the one the proxy added; earlier entries are
 * whatever the client claimed and are ignored.
 */
import { HttpServerRequest } from "@effect/platform"
import { Effect, Option } from "effect"

export const clientAddress = (options: { readonly trustProxy: boolean }) =>
  Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    const forwarded = request.headers["x-forwarded-for"]
    if (options.trustProxy && forwarded !== undefined) {
      const last = forwarded.split(",").at(-1)?.trim()
      if (last !== undefined && last !== "") return Option.some(last)
    }
    return request.remoteAddress
  })
