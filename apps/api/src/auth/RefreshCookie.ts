/**
 * The refresh token's cookie: httpOnly (no script reads it), SameSite=Strict (no other site
 * sends it), Secure unless COOKIE_SECURE=false, and sent only to the auth routes.
 */
import { HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { AuthConfig } from "@nestfleet/core/AuthConfig"
import { refreshCookie } from "@nestfleet/domain/AuthApi"
import { Clock, Effect, Option, Redacted } from "effect"

export const make = Effect.map(AuthConfig, (config) => {
  const attributes = {
    path: refreshCookie.path,
    httpOnly: true,
    secure: config.cookieSecure,
    sameSite: "strict" as const
  }

  const set = (token: Redacted.Redacted<string>, expiresAt: Date) =>
    HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.orDie(
          HttpServerResponse.setCookie(response, refreshCookie.name, Redacted.value(token), {
            ...attributes,
            expires: expiresAt,
            maxAge: `${Math.max(0, Math.floor((expiresAt.getTime() - now) / 1000))} seconds`
          })
        ))
    )

  const clear = HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.expireCookie(response, refreshCookie.name, attributes))
  )

  const read = Effect.map(
    HttpServerRequest.HttpServerRequest,
    (request) => Option.fromNullable(request.cookies[refreshCookie.name]).pipe(Option.map(Redacted.make))
  )

  return { set, clear, read } as const
})
