import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Sessions } from "@nestfleet/core/Sessions"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect, Option, Redacted } from "effect"
import { HttpConfig } from "../HttpConfig.js"
import { clientAddress } from "./ClientAddress.js"
import * as RefreshCookie from "./RefreshCookie.js"

/** The token of an `Authorization: Bearer …` header, if the request has one. */
const bearerToken = Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
  Option.fromNullable(/^Bearer +(\S+)\s*$/i.exec(request.headers.authorization ?? "")?.[1]).pipe(
    Option.map(Redacted.make)
  ))

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
        Effect.gen(function*() {
          yield* sessions.logout({ refreshToken: yield* cookie.read, accessToken: yield* bearerToken })
          yield* cookie.clear
        }))
  }))
