/**
 * A product made with `Products.create` comes with its own full-text index and its vector
 * indexes (one per table) in every embedding space searched or being filled, so its searches
 * never go through the other products' passages and vectors.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { EmbeddingSpacesRepo } from "@nestfleet/db/EmbeddingSpacesRepo"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Effect, Layer, Option } from "effect"
import { Products } from "../src/Products.js"

const TestLayer = Layer.mergeAll(Products.Default, EmbeddingSpacesRepo.Default).pipe(Layer.provideMerge(TestDatabase.layer))

const indexNames = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ indexname: string }>`
      select indexname from pg_indexes
      where tablename in ('article_chunks', 'chunk_embeddings', 'case_embeddings') order by indexname`,
    (rows) => rows.map((row) => row.indexname).filter((name) => /_p[0-9a-f]{32}$/.test(name)).sort()
  ))

layer(TestLayer, { excludeTestServices: true, timeout: 60_000 })("Products.create", (it) => {
  it.effect("a new product gets its full-text index, and its vector indexes in every space that is not retired", () =>
    Effect.gen(function*() {
      const products = yield* Products
      const spaces = yield* EmbeddingSpacesRepo
      const before = yield* products.create({ name: "Before", slug: "before" })
      const hex = (product: string) => product.replaceAll("-", "")
      expect(yield* indexNames).toEqual([`article_chunks_search_p${hex(before.id)}`]) // no space yet

      const active = Option.getOrThrow(yield* spaces.create({ provider: "test", model: "a", dimensions: 3 }, "active"))
      const building = Option.getOrThrow(yield* spaces.create({ provider: "test", model: "b", dimensions: 2 }, "building"))
      const after = yield* products.create({ name: "After", slug: "after" })

      const expected = [
        ...[before.id, after.id].map((product) => `article_chunks_search_p${hex(product)}`),
        ...[active.id, building.id].flatMap((space) =>
          [before.id, after.id].flatMap((product) => [
            `case_embeddings_s${space}_p${hex(product)}`,
            `chunk_embeddings_s${space}_p${hex(product)}`
          ])
        )
      ].sort()
      expect(yield* indexNames).toEqual(expected)
    }))
})
