import { HttpApiBuilder } from "@effect/platform"
import { Channels } from "@nestfleet/core/Channels"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const ChannelsHttpLive = HttpApiBuilder.group(NestFleetApi, "channels", (handlers) =>
  Effect.gen(function*() {
    const channels = yield* Channels
    return handlers
      .handle("list", ({ path }) => channels.list(path.productId))
      .handle("create", ({ path, payload }) => channels.create(path.productId, payload))
      .handle("update", ({ path, payload }) => channels.update(path.id, payload))
      .handle("disable", ({ path }) => channels.disable(path.id))
      .handle("rotateSecret", ({ path, payload }) => channels.rotateSecret(path.id, payload.secret))
  }))
