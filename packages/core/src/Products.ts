/** Products and their pipeline policy. Settings not given keep their current (or default) values. */
import { EmbeddingSpacesRepo } from "@nestfleet/db/EmbeddingSpacesRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { ProductsRepo, type ProductRow } from "@nestfleet/db/ProductsRepo"
import { Product, type ProductId, ProductSettings, type ProductSettingsPatch } from "@nestfleet/domain/Products"
import { type NewProduct, type ProductChanges, ProductList, ProductNotFound } from "@nestfleet/domain/ProductsApi"
import { Effect, Option } from "effect"
import { orDieUnexpected } from "./Unexpected.js"

const toProduct = (row: ProductRow) => new Product(row)

const merge = (settings: ProductSettings, patch: ProductSettingsPatch | undefined) =>
  patch === undefined ? settings : new ProductSettings({ ...settings, ...patch })

const productNotFound = (id: string) => new ProductNotFound({ message: `No product has the id ${id}` })

export class Products extends Effect.Service<Products>()("@nestfleet/core/Products", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const repo = yield* ProductsRepo
    const spaces = yield* EmbeddingSpacesRepo

    const list = Effect.fn("Products.list")(function*() {
      return new ProductList({ items: (yield* repo.list()).map(toProduct) })
    }, orDieUnexpected)

    const get = Effect.fn("Products.get")(function*(id: ProductId) {
      const row = yield* repo.findById(id)
      if (Option.isNone(row)) return yield* productNotFound(id)
      return toProduct(row.value)
    }, orDieUnexpected)

    const getBySlug = Effect.fn("Products.getBySlug")(function*(slug: string) {
      const row = yield* repo.findBySlug(slug)
      if (Option.isNone(row)) return yield* new ProductNotFound({ message: `No product has the slug ${slug}` })
      return toProduct(row.value)
    }, orDieUnexpected)

    /**
     * The product comes with its own search indexes, in every embedding space. Under the spaces'
     * lock: a space made at the same moment then either sees the product or is seen by it.
     */
    const create = Effect.fn("Products.create")(function*(input: NewProduct) {
      const row = yield* transactions.withTransaction(Effect.gen(function*() {
        yield* spaces.lockSpaces
        const inserted = yield* repo.insert({
          name: input.name,
          slug: input.slug,
          settings: merge(ProductSettings.defaults, input.settings)
        })
        yield* repo.createIndexes(inserted.id)
        return inserted
      }))
      return toProduct(row)
    }, orDieUnexpected)

    /** Two admins changing different settings at once both keep their change: the merge runs on the locked row. */
    const update = Effect.fn("Products.update")(function*(id: ProductId, changes: ProductChanges) {
      const row = yield* transactions.withTransaction(Effect.gen(function*() {
        const current = yield* repo.lock(id)
        if (Option.isNone(current)) return yield* productNotFound(id)
        return yield* repo.update(id, {
          name: changes.name ?? current.value.name,
          slug: changes.slug ?? current.value.slug,
          settings: merge(current.value.settings, changes.settings)
        })
      }))
      if (Option.isNone(row)) return yield* productNotFound(id)
      return toProduct(row.value)
    }, orDieUnexpected)

    return { list, get, getBySlug, create, update } as const
  }),
  dependencies: [Transactions.Default, ProductsRepo.Default, EmbeddingSpacesRepo.Default]
}) {}
