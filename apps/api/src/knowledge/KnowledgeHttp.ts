import { HttpApiBuilder } from "@effect/platform"
import { Knowledge } from "@nestfleet/core/Knowledge"
import { CurrentUser } from "@nestfleet/domain/Access"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const KnowledgeHttpLive = HttpApiBuilder.group(NestFleetApi, "knowledge", (handlers) =>
  Effect.gen(function*() {
    const knowledge = yield* Knowledge
    return handlers
      .handle("create", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (user) => knowledge.create(user, path.productId, payload)))
      .handle("list", ({ path, urlParams }) => knowledge.list(path.productId, urlParams))
      .handle("get", ({ path }) => knowledge.get(path.id))
      .handle("update", ({ path, payload }) => knowledge.update(path.id, payload))
      .handle("delete", ({ path }) => knowledge.remove(path.id))
      .handle("search", ({ path, urlParams }) => knowledge.search(path.productId, urlParams.q, urlParams.limit))
  }))
