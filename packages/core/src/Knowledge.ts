/**
 * The knowledge base: articles, their passages and vectors, and hybrid search over them.
 *
 * Writing an article sends its `embed_article` job in the same transaction, naming the
 * version written; the job cuts that version into passages and embeds them outside any
 * transaction, then stores them only if the article is still at that version — an older
 * job finishing late never overwrites a newer version's passages.
 */
import { LlmCallSite } from "@nestfleet/ai/Llm"
import { KnowledgeRepo, type ArticleRow, type PassageHit } from "@nestfleet/db/KnowledgeRepo"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import { EmbeddingSpacesRepo } from "@nestfleet/db/EmbeddingSpacesRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import type { SignedInUser } from "@nestfleet/domain/Access"
import {
  Article,
  type ArticleChanges,
  type ArticleId,
  ArticlePage,
  ArticleSummary,
  KbSearchItem,
  KbSearchResult,
  type NewArticle
} from "@nestfleet/domain/Knowledge"
import { ArticleNotFound, type ArticleQuery, InvalidArticleCursor } from "@nestfleet/domain/KnowledgeApi"
import type { ProductId } from "@nestfleet/domain/Products"
import { ProductNotFound } from "@nestfleet/domain/ProductsApi"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { EmbedArticleJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect, Option } from "effect"
import * as ArticleChunks from "./ArticleChunks.js"
import { Embeddings } from "./Embeddings.js"
import * as MatchScore from "./MatchScore.js"
import { orDieUnexpected } from "./Unexpected.js"

const toArticle = (row: ArticleRow) => new Article(row)
const toSummary = (row: ArticleRow) => new ArticleSummary(row)

const articleNotFound = (id: string) => new ArticleNotFound({ message: `No article has the id ${id}` })
const productNotFound = (id: string) => new ProductNotFound({ message: `No product has the id ${id}` })

const defaultPageSize = 25
const defaultSearchResults = 5
/** Passages each ranking contributes before fusion: enough for one item per article after grouping. */
const candidatesPerRanking = 50
const snippetCharacters = 280

// The page cursor: an offset, opaque to clients (ranked lists have no stable keyset).
const encodeCursor = (offset: number) => Buffer.from(`o:${offset}`).toString("base64url")
const decodeCursor = (cursor: string) => {
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"))
  return match === null
    ? Effect.fail(new InvalidArticleCursor({ message: "The cursor is not one this API gave out; start from the first page" }))
    : Effect.succeed(Number(match[1]))
}

/** A passage's first characters, cut at a word. */
const snippet = (text: string) => {
  const flat = text.replace(/\s+/g, " ").trim()
  if (flat.length <= snippetCharacters) return flat
  const cut = flat.slice(0, snippetCharacters)
  return `${cut.slice(0, Math.max(cut.lastIndexOf(" "), snippetCharacters / 2))}…`
}

/** One item per article, its best passage first; passages come ranked by fusion. */
export const bestPerArticle = (hits: ReadonlyArray<PassageHit>, model: MatchScore.ScoredModel | null) => {
  const seen = new Set<string>()
  const items: Array<KbSearchItem> = []
  for (const hit of hits) {
    if (seen.has(hit.articleId)) continue
    seen.add(hit.articleId)
    items.push(
      new KbSearchItem({
        articleId: hit.articleId,
        title: hit.title,
        url: hit.url,
        score: MatchScore.score(hit, model),
        snippet: snippet(hit.text),
        heading: hit.heading
      })
    )
  }
  return items
}

export class Knowledge extends Effect.Service<Knowledge>()("@nestfleet/core/Knowledge", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const repo = yield* KnowledgeRepo
    const products = yield* ProductsRepo
    const spaces = yield* EmbeddingSpacesRepo
    const queue = yield* JobQueue
    const embeddings = yield* Embeddings

    const requireProduct = (id: ProductId) =>
      Effect.flatMap(products.findById(id), Option.match({ onNone: () => Effect.fail(productNotFound(id)), onSome: Effect.succeed }))

    const sendEmbedding = (row: ArticleRow) =>
      queue.send(EmbedArticleJob, { articleId: row.id, version: row.version }, {
        singletonKey: `article:${row.id}:${row.version}`
      }).pipe(Effect.orDie)

    const create = Effect.fn("Knowledge.create")(function*(user: SignedInUser, productId: ProductId, input: NewArticle) {
      yield* requireProduct(productId)
      const row = yield* transactions.withTransaction(Effect.tap(
        repo.insert({
          productId,
          title: input.title,
          body: input.body,
          url: input.url ?? null,
          tags: input.tags ?? [],
          status: input.status ?? "published",
          sourcePath: null,
          createdBy: user.id
        }),
        sendEmbedding
      ))
      return toArticle(row)
    }, orDieUnexpected)

    const get = Effect.fn("Knowledge.get")(function*(id: ArticleId) {
      const row = yield* repo.findById(id)
      if (Option.isNone(row)) return yield* articleNotFound(id)
      return toArticle(row.value)
    }, orDieUnexpected)

    /** Changes merge into the locked row; a new title or body is a new version, embedded again. */
    const update = Effect.fn("Knowledge.update")(function*(id: ArticleId, changes: ArticleChanges) {
      const row = yield* transactions.withTransaction(Effect.gen(function*() {
        const found = yield* repo.lock(id)
        if (Option.isNone(found)) return yield* articleNotFound(id)
        const current = found.value
        const title = changes.title ?? current.title
        const body = changes.body ?? current.body
        const newVersion = title !== current.title || body !== current.body
        const updated = yield* repo.update({
          id,
          title,
          body,
          url: changes.url === undefined ? current.url : changes.url,
          tags: changes.tags ?? current.tags,
          status: changes.status ?? current.status,
          newVersion
        })
        if (newVersion) yield* sendEmbedding(updated)
        return updated
      }))
      return toArticle(row)
    }, orDieUnexpected)

    const remove = Effect.fn("Knowledge.remove")(function*(id: ArticleId) {
      if (!(yield* repo.remove(id))) return yield* articleNotFound(id)
    }, orDieUnexpected)

    const list = Effect.fn("Knowledge.list")(function*(productId: ProductId, query: ArticleQuery) {
      yield* requireProduct(productId)
      const limit = query.limit ?? defaultPageSize
      const offset = query.cursor === undefined ? 0 : yield* decodeCursor(query.cursor)
      const rows = yield* repo.list({ productId, q: query.q, status: query.status, offset, limit })
      return new ArticlePage({
        items: rows.slice(0, limit).map(toSummary),
        nextCursor: rows.length > limit ? encodeCursor(offset + limit) : null
      })
    }, orDieUnexpected)

    /**
     * Passages of the product's published articles ranked by meaning and words, fused. The
     * query is embedded in the active space when it can be; if the model cannot be reached,
     * words alone rank (and scores say so: they come from meaning only).
     */
    const searchPassages = Effect.fn("Knowledge.searchPassages")(function*(productId: ProductId, text: string) {
      const vector = yield* embeddings.queryVector(text).pipe(
        Effect.catchAll((error) =>
          Effect.as(Effect.logWarning("Knowledge: the query could not be embedded; searching by words").pipe(
            Effect.annotateLogs({ error: error._tag })
          ), Option.none())
        )
      )
      const hits = yield* repo.searchPassages({
        productId,
        text,
        vector: Option.getOrNull(vector),
        candidates: candidatesPerRanking
      })
      const model = Option.isSome(vector)
        ? yield* Effect.map(spaces.findById(vector.value.spaceId), Option.match({ onNone: () => null, onSome: MatchScore.modelOf }))
        : null
      return { hits, model }
    })

    const search = Effect.fn("Knowledge.search")(function*(productId: ProductId, q: string, limit: number | undefined) {
      yield* requireProduct(productId)
      const { hits, model } = yield* searchPassages(productId, q)
      return new KbSearchResult({ items: bestPerArticle(hits, model).slice(0, limit ?? defaultSearchResults) })
    }, orDieUnexpected)

    /**
     * The `embed_article` job: the version it names, cut and embedded, stored if the article
     * is still at that version. Vectors that cannot be made now (the model unreachable) leave
     * the passages searchable by words, the article `failed`, and the job to retry.
     */
    const embedArticle = Effect.fn("Knowledge.embedArticle")(function*(articleId: ArticleId, version: number) {
      yield* Effect.annotateCurrentSpan({ "article.id": articleId, "article.version": version })
      const found = yield* repo.findById(articleId)
      if (Option.isNone(found) || found.value.version !== version) {
        return yield* Effect.logInfo("Knowledge: the article is gone or has a newer version; nothing to embed")
      }
      const chunks = ArticleChunks.chunk(found.value.title, found.value.body)
      const embedded = yield* Effect.either(embeddings.embed(chunks.map(ArticleChunks.embeddingText)))
      yield* transactions.withTransaction(Effect.gen(function*() {
        const current = yield* repo.lock(articleId)
        if (Option.isNone(current) || current.value.version !== version) return
        const stored = yield* repo.replaceChunks(articleId, chunks)
        const ids = new Map(stored.map((row) => [row.ordinal, row.id]))
        if (embedded._tag === "Right") {
          const { space, vectors } = embedded.right
          yield* spaces.insertChunkVectors(
            space.id,
            chunks.map((chunk, i) => ({ chunkId: ids.get(chunk.ordinal)!, vector: vectors[i]! }))
          )
        }
        yield* repo.markEmbedding(articleId, version, embedded._tag === "Right" ? "ready" : "failed")
      }))
      if (embedded._tag === "Left") return yield* embedded.left
    }, (effect, _articleId) => Effect.provideService(effect, LlmCallSite, { caseId: null, step: "embed_article" }), orDieUnexpected)

    return { create, get, update, remove, list, search, searchPassages, embedArticle } as const
  }),
  dependencies: [Transactions.Default, KnowledgeRepo.Default, ProductsRepo.Default, EmbeddingSpacesRepo.Default, Embeddings.Default]
}) {}
