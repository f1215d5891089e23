import { HttpApiBuilder } from "@effect/platform"
import { Drafts } from "@nestfleet/core/Drafts"
import { CurrentUser } from "@nestfleet/domain/Access"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const DraftsHttpLive = HttpApiBuilder.group(NestFleetApi, "drafts", (handlers) =>
  Effect.gen(function*() {
    const drafts = yield* Drafts
    return handlers
      .handle("approvals", ({ urlParams }) => drafts.approvals(urlParams))
      .handle("approve", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (user) => drafts.approve(user, path.id, payload.version)))
      .handle("reject", ({ path, payload }) => Effect.flatMap(CurrentUser, (user) => drafts.reject(user, path.id, payload)))
      .handle("edit", ({ path, payload }) => Effect.flatMap(CurrentUser, (user) => drafts.edit(user, path.id, payload)))
      .handle("request", ({ path }) => Effect.flatMap(CurrentUser, (user) => drafts.request(user, path.id)))
  }))
