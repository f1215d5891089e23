import { HttpApiBuilder } from "@effect/platform"
import { Sessions } from "@nestfleet/core/Sessions"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"
import { HttpConfig } from "../HttpConfig.js"
import { clientAddress } from "./ClientAddress.js"
import * as RefreshCookie from "./RefreshCookie.js"

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
  }))
