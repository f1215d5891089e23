import { HttpApiBuilder } from "@effect/platform"
import { Cases } from "@nestfleet/core/Cases"
import { CurrentUser } from "@nestfleet/domain/Access"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const CasesHttpLive = HttpApiBuilder.group(NestFleetApi, "cases", (handlers) =>
  Effect.gen(function*() {
    const cases = yield* Cases
    return handlers
      .handle("list", ({ urlParams }) => cases.list(urlParams))
      .handle("get", ({ path }) => cases.get(path.id))
      .handle("update", ({ path, payload }) => Effect.flatMap(CurrentUser, (user) => cases.update(user, path.id, payload)))
      .handle("addNote", ({ path, payload }) => Effect.flatMap(CurrentUser, (user) => cases.addNote(user, path.id, payload)))
      .handle("retriage", ({ path }) => Effect.flatMap(CurrentUser, (user) => cases.retriage(user, path.id)))
      .handle("markDuplicate", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (user) => cases.markDuplicate(user, path.id, payload.caseId)))
      .handle("dismissDuplicate", ({ path }) => Effect.flatMap(CurrentUser, (user) => cases.dismissDuplicate(user, path.id)))
  }))
