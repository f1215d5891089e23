import { HttpApiBuilder, HttpApiSecurity } from "@effect/platform"
import { Sessions } from "@nestfleet/core/Sessions"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect, Option } from "effect"
import { HttpConfig } from "../HttpConfig.js"
import { clientAddress } from "./ClientAddress.js"
import * as RefreshCookie from "./RefreshCookie.js"

/** The bearer token, read as the access middleware reads it (empty when there is none). */
const bearerToken = Effect.map(HttpApiBuilder.securityDecode(HttpApiSecurity.bearer), Option.some)

export const AuthHttpLive = HttpApiBuilder.group(NestFleetApi, "auth", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const cookie = yield* RefreshCookie.make
    const addressOf = clientAddress(yield* HttpConfig)
    return handlers
      .handle("login", ({ payload }) =>
        Effect.gen(function*() {
          const grant = yield* sessions.login(payload.email, payload.password, yield* addressOf)
          yield* cookie.set(grant.refreshToken, grant.refreshExpiresAt)
          return grant.session
        }))
      .handle("refresh", () =>
        Effect.gen(function*() {
          const grant = yield* cookie.read.pipe(
            Effect.flatMap(sessions.refresh),
            Effect.tapError(() => cookie.clear)
          )
          yield* cookie.set(grant.refreshToken, grant.refreshExpiresAt)
          return grant.session
        }))
      .handle("logout", () =>
        // Cleared whatever happens: a browser asked to sign out should not keep its token
        // because the server failed to revoke it.
        Effect.gen(function*() {
          yield* sessions.logout({ refreshToken: yield* cookie.read, accessToken: yield* bearerToken })
        }).pipe(Effect.ensuring(cookie.clear)))
  }))
