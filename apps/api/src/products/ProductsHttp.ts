import { HttpApiBuilder } from "@effect/platform"
import { Products } from "@nestfleet/core/Products"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"

export const ProductsHttpLive = HttpApiBuilder.group(NestFleetApi, "products", (handlers) =>
  Effect.gen(function*() {
    const products = yield* Products
    return handlers
      .handle("list", () => products.list())
      .handle("get", ({ path }) => products.get(path.id))
      .handle("create", ({ payload }) => products.create(payload))
      .handle("update", ({ path, payload }) => products.update(path.id, payload))
  }))
