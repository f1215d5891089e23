/**
 * Search indexes per product (migration 008), on a real database: every product has its
 * full-text index and an HNSW index in every space that is searched or being filled, a retired
 * space's go, searches stay in their product and can use the product's indexes, and 008 gives
 * the passages and vectors stored before it their product.
 */
import { SqlClient, type Statement } from "@effect/sql"
import { NodeContext } from "@effect/platform-node"
import { expect, it, layer } from "@effect/vitest"
import { CaseId } from "@nestfleet/domain/Cases"
import { ProductId, ProductSettings } from "@nestfleet/domain/Products"
import { Effect, Layer, Option } from "effect"
import { fileURLToPath } from "node:url"
import { EmbeddingSpacesRepo } from "../src/EmbeddingSpacesRepo.js"
import { KnowledgeRepo } from "../src/KnowledgeRepo.js"
import * as Migrations from "../src/Migrations.js"
import * as Migrator from "../src/Migrator.js"
import { ProductsRepo } from "../src/ProductsRepo.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"

const TestLayer = Layer.mergeAll(KnowledgeRepo.Default, ProductsRepo.Default, EmbeddingSpacesRepo.Default).pipe(
  Layer.provideMerge(TestDatabase.layer)
)

const hex = (id: string) => id.replaceAll("-", "")

/** The vector indexes of `spaceId`, as "<table>/<product id without dashes>", sorted. */
const indexesOf = (spaceId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ tablename: string; indexname: string }>`
        select tablename, indexname from pg_indexes
        where tablename in ('chunk_embeddings', 'case_embeddings')`,
      (rows) =>
        rows.flatMap(({ indexname, tablename }) => {
          const prefix = `${tablename}_s${spaceId}_p`
          return indexname.startsWith(prefix) ? [`${tablename}/${indexname.slice(prefix.length)}`] : []
        }).sort()
    ))

/** The products with a full-text index of their own, as ids without dashes, sorted. */
const searchIndexes = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ indexname: string }>`select indexname from pg_indexes where tablename = 'article_chunks'`,
    (rows) => rows.flatMap(({ indexname }) => indexname.startsWith("article_chunks_search_p") ? [indexname.slice(23)] : []).sort()
  ))

/** The storage options of the products' full-text indexes (migration 009 turns GIN's pending list off). */
const searchIndexOptions = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ options: ReadonlyArray<string> | null }>`
      select reloptions as options from pg_class where starts_with(relname, 'article_chunks_search_p') and relkind = 'i'`,
    (rows) => [...new Set(rows.map((row) => (row.options ?? []).join(",")))]
  ))

const both = (...products: ReadonlyArray<string>) =>
  products.flatMap((id) => [`case_embeddings/${hex(id)}`, `chunk_embeddings/${hex(id)}`]).sort()

let made = 0
const newProduct = Effect.flatMap(ProductsRepo, (repo) => {
  const n = ++made
  return Effect.map(repo.insert({ name: `Indexed ${n}`, slug: `indexed-${n}`, settings: ProductSettings.defaults }), (row) => row.id)
})

const newSpace = (model: string, dimensions: number, state: "active" | "building") =>
  Effect.flatMap(EmbeddingSpacesRepo, (spaces) => Effect.map(spaces.create({ provider: "test", model, dimensions }, state), Option.getOrThrow))

/** A published (or draft) article of one passage, its vector stored in the space. */
const article = (productId: ProductId, spaceId: number, text: string, vector: ReadonlyArray<number>, status: "published" | "draft" = "published") =>
  Effect.gen(function*() {
    const repo = yield* KnowledgeRepo
    const row = yield* repo.insert({ productId, title: text, body: text, url: null, tags: [], status, sourcePath: null, createdBy: null })
    const [chunk] = yield* repo.replaceChunks(row.id, [{ ordinal: 0, heading: text, text }])
    yield* Effect.flatMap(EmbeddingSpacesRepo, (spaces) => spaces.insertChunkVectors(spaceId, [{ chunkId: chunk!.id, vector }]))
    return row.id
  })

layer(TestLayer, { excludeTestServices: true, timeout: 60_000 })("vector indexes per space and product", (it) => {
  it.effect("every product has its indexes in every space searched or being filled; a retired space's go", () =>
    Effect.gen(function*() {
      const spaces = yield* EmbeddingSpacesRepo
      const products = yield* ProductsRepo
      const a = yield* newProduct
      const b = yield* newProduct
      const first = yield* newSpace("indexes-4", 4, "active")
      expect(yield* indexesOf(first.id)).toEqual(both(a, b))

      const c = yield* newProduct
      yield* products.createIndexes(c)
      expect(yield* indexesOf(first.id)).toEqual(both(a, b, c))

      const second = yield* newSpace("indexes-3", 3, "building")
      expect(yield* indexesOf(second.id)).toEqual(both(a, b, c))
      const d = yield* newProduct
      yield* products.createIndexes(d)
      expect(yield* indexesOf(first.id)).toEqual(both(a, b, c, d))
      expect(yield* indexesOf(second.id)).toEqual(both(a, b, c, d))

      yield* spaces.activate(second.id)
      expect(yield* indexesOf(first.id)).toEqual([])
      expect(yield* indexesOf(second.id)).toEqual(both(a, b, c, d))

      // A building space given up before it was complete.
      const third = yield* newSpace("indexes-2", 2, "building")
      expect(yield* indexesOf(third.id)).toEqual(both(a, b, c, d))
      yield* spaces.retire(third.id)
      expect(yield* indexesOf(third.id)).toEqual([])
      yield* spaces.revive(third, "building")
      expect(yield* indexesOf(third.id)).toEqual(both(a, b, c, d))
      yield* spaces.retire(third.id)

      const e = yield* newProduct
      yield* products.createIndexes(e)
      expect(yield* indexesOf(second.id)).toEqual(both(a, b, c, d, e))
      expect(yield* indexesOf(first.id)).toEqual([])
      expect(yield* indexesOf(third.id)).toEqual([])
      expect(yield* searchIndexes).toEqual([c, d, e].map(hex).sort())
      expect(yield* searchIndexOptions).toEqual(["fastupdate=off"])
    }))

  it.effect("every session searches HNSW with ef_search 100 and the iterative scan, outside any transaction", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      // Several statements, so that on the server more than one pooled session answers.
      const settings = yield* Effect.all(
        Array.from({ length: 4 }, () =>
          sql<{ efSearch: string; iterativeScan: string }>`
            select current_setting('hnsw.ef_search') as ef_search, current_setting('hnsw.iterative_scan') as iterative_scan`),
        { concurrency: 4 }
      )
      expect(settings.flat()).toEqual(Array(4).fill({ efSearch: "100", iterativeScan: "relaxed_order" }))
    }))

  it.effect("a search stays in its product, and its vector half can use the product's index", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const repo = yield* KnowledgeRepo
      const spaces = yield* EmbeddingSpacesRepo
      const products = yield* ProductsRepo
      const active = yield* spaces.active()
      const space = Option.isSome(active) ? active.value : yield* newSpace("search-3", 3, "active")
      const dims = space.dimensions
      const unit = (i: number) => Array.from({ length: dims }, (_, d) => (d === i % dims ? 1 : 0.1))
      const p = yield* newProduct
      const q = yield* newProduct
      yield* products.createIndexes(p)
      yield* products.createIndexes(q)
      const pExport = yield* article(p, space.id, "Export invoices as CSV", unit(0))
      yield* article(p, space.id, "Export invoices, the old way", unit(0), "draft")
      const pPrint = yield* article(p, space.id, "Print a dashboard", unit(1))
      const qExport = yield* article(q, space.id, "Export invoices as CSV", unit(0))

      const search = (productId: ProductId) =>
        Effect.map(
          repo.searchPassages({
            productId,
            text: "export invoices",
            vector: { spaceId: space.id, dimensions: dims, vector: unit(0) },
            candidates: 50
          }),
          (hits) => hits.map((hit) => hit.articleId)
        )
      expect(yield* search(p)).toEqual([pExport, pPrint])
      expect(yield* search(q)).toEqual([qExport])

      // The predicates as searches send them, with bound parameters, imply the product's indexes'.
      const type = sql.literal(`vector(${dims})`)
      const plan = (statement: Statement.Statement<Record<string, string>>) =>
        Effect.map(
          sql.withTransaction(Effect.zipRight(sql`set local enable_seqscan = off`, statement)),
          (rows) => rows.flatMap((row) => Object.values(row)).join("\n")
        )
      expect(
        yield* plan(sql`
          explain select chunk_id from chunk_embeddings where space_id = ${space.id} and product_id = ${p}
          order by embedding::${type} <=> ${`[${unit(0).join(",")}]`}::${type} limit 5`)
      ).toContain(`chunk_embeddings_s${space.id}_p${hex(p)}`)
      expect(
        yield* plan(sql`
          explain select id from article_chunks
          where product_id = ${p} and search @@ plainto_tsquery('english', ${"invoices"})`)
      ).toContain(`article_chunks_search_p${hex(p)}`)
    }))
})

const migrationsDir = fileURLToPath(new URL("../../../migrations", import.meta.url))

it.live("008 gives the vectors stored before it their product and indexes them per space and product", () =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const all = yield* Migrations.loadDirectory(migrationsDir)
    yield* Migrator.run(all.filter((migration) => migration.id < 8))

    // What 007 left: one active space with its shared index, a retired one, vectors of two products.
    const [space] = yield* sql<{ id: number }>`
      insert into embedding_spaces (provider, model, dimensions, state) values ('test', 'old', 3, 'active') returning id`
    const [retired] = yield* sql<{ id: number }>`
      insert into embedding_spaces (provider, model, dimensions, state) values ('test', 'older', 2, 'retired') returning id`
    yield* sql.unsafe(
      `create index chunk_embeddings_space_${space!.id} on chunk_embeddings ` +
        `using hnsw ((embedding::vector(3)) vector_cosine_ops) where space_id = ${space!.id}`
    )
    const products = yield* sql<{ id: ProductId }>`
      insert into products (name, slug, settings) values ('One', 'one', '{}'), ('Two', 'two', '{}') returning id`
    const [one, two] = products.map((row) => row.id) as [ProductId, ProductId]
    const [channel] = yield* sql<{ id: string }>`
      insert into channels (product_id, type, name, secret) values (${two}, 'webhook', 'Hook', 's') returning id`
    const [kase] = yield* sql<{ id: CaseId }>`
      insert into cases (product_id, channel_id, thread_key, subject) values (${two}, ${channel!.id}, 't', 'Help') returning id`
    const articles = yield* sql<{ id: string; productId: ProductId }>`
      insert into articles (product_id, title, body, status)
      values (${one}, 'A', 'a', 'published'), (${two}, 'B', 'b', 'published') returning id, product_id`
    for (const [i, row] of articles.entries()) {
      yield* sql`
        with c as (
          insert into article_chunks (article_id, ordinal, heading, text, search)
          values (${row.id}, 0, 'h', 't', to_tsvector('t')) returning id
        )
        insert into chunk_embeddings (chunk_id, space_id, embedding) select id, ${space!.id}, ${`[${i},1,0]`}::vector from c`
    }
    yield* sql`
      insert into case_embeddings (case_id, space_id, embedding, content_hash) values (${kase!.id}, ${space!.id}, '[0,1,0]', 'h')`

    expect(yield* Migrator.run(all.filter((migration) => migration.id <= 8))).toEqual(["008_embeddings_per_product"])
    const chunkProducts = yield* sql<{ articleProduct: string; productId: string }>`
      select a.product_id as article_product, e.product_id from chunk_embeddings e
      join article_chunks c on c.id = e.chunk_id join articles a on a.id = c.article_id`
    expect(chunkProducts).toHaveLength(2)
    for (const row of chunkProducts) expect(row.productId).toBe(row.articleProduct)
    expect(yield* sql`select product_id from case_embeddings`).toEqual([{ productId: two }])

    const passages = yield* sql<{ articleProduct: string; productId: string }>`
      select a.product_id as article_product, c.product_id from article_chunks c join articles a on a.id = c.article_id`
    expect(passages).toHaveLength(2)
    for (const row of passages) expect(row.productId).toBe(row.articleProduct)

    expect(yield* indexesOf(space!.id)).toEqual(both(one, two))
    expect(yield* searchIndexes).toEqual([one, two].map(hex).sort())
    const leftover = yield* sql`
      select indexname from pg_indexes where indexname like '%embeddings_space_%' or indexname = 'article_chunks_search'`
    expect(leftover).toEqual([])
    expect(yield* indexesOf(retired!.id)).toEqual([])

    // 009 counts the passages already there into their products' word statistics.
    yield* sql`update article_chunks set search = setweight(to_tsvector('english', 'Gadget'), 'A') || to_tsvector('english', 'widget widget')`
    expect(yield* searchIndexOptions).toEqual([""])
    expect(yield* Migrator.run(all)).toContain("009_passage_term_statistics")
    expect(yield* searchIndexOptions).toEqual(["fastupdate=off"])
    const counted = yield* sql<{ productId: string; lexeme: string; passages: number }>`
      select product_id, lexeme, passages from passage_lexemes order by product_id, lexeme`
    expect(counted).toEqual([one, two].sort().flatMap((productId) => [
      { productId, lexeme: "gadget", passages: 1 },
      { productId, lexeme: "widget", passages: 1 }
    ]))
    const totals = yield* sql<{ productId: string; passages: string; totalLength: string }>`
      select product_id, passages, total_length from passage_totals order by product_id`
    expect(totals).toEqual([one, two].sort().map((productId) => ({ productId, passages: "1", totalLength: "5" })))
  }).pipe(Effect.provide(Layer.merge(TestDatabase.layerEmpty, NodeContext.layer))), 60_000)
