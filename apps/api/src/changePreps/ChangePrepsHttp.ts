import { HttpApiBuilder } from "@effect/platform"
import { ChangePreps } from "@nestfleet/core/ChangePreps"
import { CurrentUser } from "@nestfleet/domain/Access"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const ChangePrepsHttpLive = HttpApiBuilder.group(NestFleetApi, "changePreps", (handlers) =>
  Effect.gen(function*() {
    const preps = yield* ChangePreps
    return handlers
      .handle("request", ({ path }) => Effect.flatMap(CurrentUser, (user) => preps.request(user, path.id)))
      .handle("latest", ({ path }) => preps.latest(path.id))
      .handle("markdown", ({ path }) => preps.markdown(path.id))
  }))
