/**
 * The request as HttpApi reads it, except its JSON body: every lone UTF-16 surrogate becomes
 * U+FFFD, in keys and in values, before any Schema sees it (PostgreSQL's `jsonb` cannot hold
 * one; see `Text`). Done here, where every JSON payload is read, it cannot miss a field; a
 * Schema rule would have to be put on each field stored as JSON, and one forgotten is a 500
 * that a client retries forever. NUL characters are left to the Schemas, which refuse them
 * naming the field.
 *
 * A body nesting deeper than `maxDepth` levels is refused here too, before any Schema sees
 * it: when a decode fails, Effect formats the value it was given by recursing into it, and
 * a few thousand levels (10 KB of `[`) overflow the call stack — a 500 anyone could cause,
 * on login as on every other endpoint. No payload of this API comes near that depth, and
 * webhook deliveries are held to the same limit (see `InboundMessages`).
 *
 * A request without a body is read as JSON whatever its Content-Type names (one with a
 * body and another type never gets here: see `MediaType`). HttpApi reads a body by the
 * Content-Type, and its multipart reader hangs on an empty body, or dies (a 500) when the
 * boundary is missing; there is nothing to read anyway, and JSON's nothing is the `null`
 * the payload's Schema refuses.
 *
 * HttpApi takes the request from the context and calls its `json`. A Proxy answers that one
 * member (and, without a body, `headers`) and hands every other to the request itself, so
 * its getters run on it and what they cache (the body's text) stays in one place.
 */
import { Headers, HttpMethod, HttpServerError, type HttpServerRequest } from "@effect/platform"
import { depthOf, mayHoldUnstorableText, replaceLoneSurrogates } from "@nestfleet/domain/Text"
import { Data, Effect } from "effect"
import { hasBody } from "./MediaType.js"

/** How deeply a JSON body may nest (`{}` is 1 level), as for webhook deliveries. */
export const maxDepth = 64

/** Why a JSON body was not read: it nests deeper than `maxDepth` (see `ApiFailures`). */
export class NestsTooDeep extends Data.TaggedError("NestsTooDeep")<{ readonly maxDepth: number }> {}

const parse = (text: string): unknown => {
  // As the platform reads it: an empty body is `null`, which the payload's Schema refuses.
  if (text === "") return null
  // V8's JSON.parse does not recurse, and `depthOf` walks with a stack: neither overflows.
  const parsed: unknown = JSON.parse(text)
  if (depthOf(parsed, maxDepth) > maxDepth) throw new NestsTooDeep({ maxDepth })
  // Only a `\u` escape can make a lone surrogate: text without one is not walked.
  return mayHoldUnstorableText(text) ? replaceLoneSurrogates(parsed) : parsed
}

const storableJson = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.flatMap(request.text, (text) =>
    Effect.try({
      try: () => parse(text),
      catch: (cause) => new HttpServerError.RequestError({ request, reason: "Decode", cause })
    }))

export const withStorableJson = (request: HttpServerRequest.HttpServerRequest): HttpServerRequest.HttpServerRequest => {
  if (!HttpMethod.hasBody(request.method)) return request
  const headers = hasBody(request) ? request.headers : Headers.remove(request.headers, "content-type")
  return new Proxy(request, {
    get: (target, key) =>
      key === "json" ? storableJson(target) : key === "headers" ? headers : Reflect.get(target, key, target)
  })
}
