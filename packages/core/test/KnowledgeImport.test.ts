/**
 * Importing articles from files (`Knowledge.importArticle`, what `pnpm kb import` calls) on a
 * real database and job queue: a path is one article per product; an unchanged file writes
 * nothing and queues nothing; a changed one is a new version with its `embed_article` job,
 * sent in the same transaction; fields the import leaves out keep what the article has.
 * (The command itself, as a process, is in KbCommand.test.ts.)
 */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import * as BuiltinProvider from "@nestfleet/ai/BuiltinProvider"
import { Llm } from "@nestfleet/ai/Llm"
import { KnowledgeRepo } from "@nestfleet/db/KnowledgeRepo"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { NewArticle } from "@nestfleet/domain/Knowledge"
import { ProductSettings } from "@nestfleet/domain/Products"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Effect, Layer } from "effect"
import { Knowledge } from "../src/Knowledge.js"

const TestLayer = Knowledge.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(ProductsRepo.Default, KnowledgeRepo.Default)),
  Layer.provide(Llm.layerWith(BuiltinProvider.provider)),
  Layer.provideMerge(JobQueue.SendOnly),
  Layer.provideMerge(TestDatabase.layer)
)

let products = 0
const newProduct = Effect.flatMap(ProductsRepo, (repo) => {
  const n = ++products
  return Effect.map(
    repo.insert({ name: `Import ${n}`, slug: `import-${n}`, settings: ProductSettings.defaults }),
    (row) => row.id
  )
})

/** The versions `embed_article` jobs were queued for, for one article, in order. */
const embedJobs = (articleId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ version: number }>`
        select (data->'payload'->>'version')::int as version from pgboss.job
        where name = 'embed_article' and data->'payload'->>'articleId' = ${articleId}
        order by 1`,
      (rows) => rows.map((row) => row.version)
    ))

const install = new NewArticle({ title: "Installing", body: "# Installing\n\nRun the installer, then sign in." })

layer(TestLayer, { excludeTestServices: true, timeout: 60_000 })("Knowledge.importArticle", (it) => {
  it.effect("creates once, leaves an unchanged file alone, and makes a changed one a new version with its job", () =>
    Effect.gen(function*() {
      const knowledge = yield* Knowledge
      const productId = yield* newProduct

      const first = yield* knowledge.importArticle(productId, "docs/install.md", install)
      expect(first).toMatchObject({ outcome: "created", embedding: true })
      expect(first.article).toMatchObject({ version: 1, status: "published", url: null, tags: [], createdBy: null })
      expect(yield* embedJobs(first.article.id)).toEqual([1])

      const again = yield* knowledge.importArticle(productId, "docs/install.md", install)
      expect(again).toMatchObject({ outcome: "unchanged", embedding: false })
      expect(again.article.id).toBe(first.article.id)
      expect(again.article.updatedAt).toEqual(first.article.updatedAt)
      expect(yield* embedJobs(first.article.id)).toEqual([1])

      const edited = new NewArticle({ ...install, body: `${install.body}\n\n## Upgrading\n\nRun it again.` })
      const changed = yield* knowledge.importArticle(productId, "docs/install.md", edited)
      expect(changed).toMatchObject({ outcome: "updated", embedding: true })
      expect(changed.article).toMatchObject({ id: first.article.id, version: 2, embeddingState: "pending", body: edited.body })
      expect(yield* embedJobs(first.article.id)).toEqual([1, 2])

      const retitled = yield* knowledge.importArticle(productId, "docs/install.md", new NewArticle({ ...edited, title: "Install" }))
      expect(retitled).toMatchObject({ outcome: "updated", embedding: true, article: { version: 3, title: "Install" } })
      expect(yield* embedJobs(first.article.id)).toEqual([1, 2, 3])

      expect((yield* knowledge.list(productId, {})).items).toHaveLength(1)
    }))

  it.effect("fields the import names change without a new version; fields it leaves out keep the article's", () =>
    Effect.gen(function*() {
      const knowledge = yield* Knowledge
      const productId = yield* newProduct
      const { article } = yield* knowledge.importArticle(productId, "docs/install.md", install)

      // An agent drafts it in the console; importing the same file without --status keeps that.
      yield* knowledge.update(article.id, { status: "draft", tags: ["setup"] })
      const kept = yield* knowledge.importArticle(productId, "docs/install.md", install)
      expect(kept).toMatchObject({ outcome: "unchanged", article: { status: "draft", tags: ["setup"], version: 1 } })

      const named = yield* knowledge.importArticle(
        productId,
        "docs/install.md",
        new NewArticle({ ...install, status: "published", url: "https://docs.example.com/install" })
      )
      expect(named).toMatchObject({
        outcome: "updated",
        embedding: false,
        article: { status: "published", url: "https://docs.example.com/install", tags: ["setup"], version: 1 }
      })
      expect(yield* embedJobs(article.id)).toEqual([1])
    }))

  it.effect("a path is one article per product; imports of one new path at once make one article", () =>
    Effect.gen(function*() {
      const knowledge = yield* Knowledge
      const a = yield* newProduct
      const b = yield* newProduct
      const results = yield* Effect.all(
        Array.from({ length: 6 }, () => knowledge.importArticle(a, "docs/faq.md", install)),
        { concurrency: "unbounded" }
      )
      expect(results.filter((r) => r.outcome === "created")).toHaveLength(1)
      expect(results.filter((r) => r.outcome === "unchanged")).toHaveLength(5)
      expect(new Set(results.map((r) => r.article.id)).size).toBe(1)
      expect(yield* embedJobs(results[0]!.article.id)).toEqual([1])

      const other = yield* knowledge.importArticle(b, "docs/faq.md", install)
      expect(other.outcome).toBe("created")
      expect(other.article.id).not.toBe(results[0]!.article.id)
    }))

  it.effect("stale imports: files gone from one folder, listed or removed; other folders and written articles stay", () =>
    Effect.gen(function*() {
      const knowledge = yield* Knowledge
      const productId = yield* newProduct
      for (const path of ["docs/a.md", "docs/b.md", "docs/sub/c.md", "docs-old/a.md", "faq/a.md"]) {
        yield* knowledge.importArticle(productId, path, install)
      }
      // One written in the console, with no path: no import touches it.
      yield* Effect.flatMap(KnowledgeRepo, (repo) =>
        repo.insert({ productId, ...install, url: null, tags: [], status: "published", sourcePath: null, createdBy: null }))

      const listed = yield* knowledge.staleImports(productId, "docs/", ["docs/a.md"], { remove: false })
      expect(listed).toEqual(["docs/b.md", "docs/sub/c.md"])
      expect((yield* knowledge.list(productId, {})).items).toHaveLength(6)

      const removed = yield* knowledge.staleImports(productId, "docs/", ["docs/a.md"], { remove: true })
      expect(removed).toEqual(["docs/b.md", "docs/sub/c.md"])
      expect((yield* knowledge.list(productId, {})).items).toHaveLength(4)
      expect(yield* knowledge.staleImports(productId, "docs/", ["docs/a.md"], { remove: false })).toEqual([])
    }))
})
