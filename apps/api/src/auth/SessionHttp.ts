import { HttpApiBuilder } from "@effect/platform"
import { Sessions } from "@nestfleet/core/Sessions"
import { Users } from "@nestfleet/core/Users"
import { CurrentUser } from "@nestfleet/domain/Access"
import { SessionUser } from "@nestfleet/domain/AuthApi"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"
import * as RefreshCookie from "./RefreshCookie.js"

export const SessionHttpLive = HttpApiBuilder.group(NestFleetApi, "session", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const users = yield* Users
    const cookie = yield* RefreshCookie.make
    return handlers
      .handle("logout", () => CurrentUser.pipe(Effect.flatMap(sessions.logout), Effect.zipRight(cookie.clear)))
      .handle("me", () => Effect.map(CurrentUser, ({ email, id, name, roles }) => new SessionUser({ id, email, name, roles })))
      .handle("changePassword", ({ payload }) =>
        Effect.flatMap(CurrentUser, (user) => users.changeOwnPassword(user, payload.currentPassword, payload.newPassword)))
  }))
