import { HttpApiBuilder } from "@effect/platform"
import { Users } from "@nestfleet/core/Users"
import { CurrentUser } from "@nestfleet/domain/Access"
import { SessionUser } from "@nestfleet/domain/AuthApi"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const SessionHttpLive = HttpApiBuilder.group(NestFleetApi, "session", (handlers) =>
  Effect.gen(function*() {
    const users = yield* Users
    return handlers
      .handle("me", () => Effect.map(CurrentUser, ({ email, id, name, roles }) => new SessionUser({ id, email, name, roles })))
      .handle("changePassword", ({ payload }) =>
        Effect.flatMap(CurrentUser, (user) => users.changeOwnPassword(user, payload.currentPassword, payload.newPassword)))
  }))
