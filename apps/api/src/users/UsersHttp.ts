import { HttpApiBuilder } from "@effect/platform"
import { Users } from "@nestfleet/core/Users"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const UsersHttpLive = HttpApiBuilder.group(NestFleetApi, "users", (handlers) =>
  Effect.gen(function*() {
    const users = yield* Users
    return handlers
      .handle("list", () => users.list())
      .handle("create", ({ payload }) => users.create(payload))
      .handle("update", ({ path, payload }) => users.update(path.id, payload))
      .handle("resetPassword", ({ path, payload }) => users.resetPassword(path.id, payload.password))
  }))
