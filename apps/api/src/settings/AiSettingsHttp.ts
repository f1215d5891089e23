import { HttpApiBuilder } from "@effect/platform"
import { AiSettings } from "@nestfleet/core/AiSettings"
import { CurrentUser } from "@nestfleet/domain/Access"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const AiSettingsHttpLive = HttpApiBuilder.group(NestFleetApi, "aiSettings", (handlers) =>
  Effect.gen(function*() {
    const settings = yield* AiSettings
    return handlers
      .handle("get", () => settings.get())
      .handle("update", ({ payload }) => Effect.flatMap(CurrentUser, (user) => settings.update(user, payload)))
      .handle("reset", () => Effect.flatMap(CurrentUser, (user) => settings.reset(user)))
  }))
