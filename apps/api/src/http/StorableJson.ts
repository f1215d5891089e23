/**
 * The request as HttpApi reads it, except its JSON body: every lone UTF-16 surrogate becomes
 * U+FFFD, in keys and in values, before any Schema sees it (PostgreSQL's `jsonb` cannot hold
 * one; see `Text`). Done here, where every JSON payload is read, it cannot miss a field; a
 * Schema rule would have to be put on each field stored as JSON, and one forgotten is a 500
 * that a client retries forever. NUL characters are left to the Schemas, which refuse them
 * naming the field.
 *
 * HttpApi takes the request from the context and calls its `json`. A Proxy answers that one
 * member and hands every other to the request itself, so its getters run on it and what they
 * cache (the body's text) stays in one place.
 */
import { HttpMethod, HttpServerError, type HttpServerRequest } from "@effect/platform"
import { mayHoldUnstorableText, replaceLoneSurrogates } from "@nestfleet/domain/Text"
import { Effect } from "effect"

const parse = (text: string): unknown => {
  // As the platform reads it: an empty body is `null`, which the payload's Schema refuses.
  if (text === "") return null
  const parsed: unknown = JSON.parse(text)
  // Only a `\u` escape can make a lone surrogate: text without one is not walked.
  return mayHoldUnstorableText(text) ? replaceLoneSurrogates(parsed) : parsed
}

const storableJson = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.flatMap(request.text, (text) =>
    Effect.try({
      try: () => parse(text),
      catch: (cause) => new HttpServerError.RequestError({ request, reason: "Decode", cause })
    }))

export const withStorableJson = (request: HttpServerRequest.HttpServerRequest): HttpServerRequest.HttpServerRequest =>
  HttpMethod.hasBody(request.method)
    ? new Proxy(request, {
      get: (target, key) => key === "json" ? storableJson(target) : Reflect.get(target, key, target)
    })
    : request
