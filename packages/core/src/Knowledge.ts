/**
 * The knowledge base: articles, their passages and vectors, and hybrid search over them.
 *
 * Writing an article sends its `embed_article` job in the same transaction, naming the
 * version written; the job cuts that version into passages and embeds them outside any
 * transaction, then stores them only if the article is still at that version — an older
 * job finishing late never overwrites a newer version's passages.
 */
import { LlmCallSite } from "@nestfleet/ai/Llm"
import { KnowledgeRepo, type ArticleRow, type PassageHit, type SpaceVector } from "@nestfleet/db/KnowledgeRepo"
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

/** What a search looks for: `text`, whose words in `emphasis` (a case's subject) count twice. */
export interface SearchQuery {
  readonly text: string
  readonly emphasis?: string | undefined
}

/** What importing one file did: `updated` with `embedding` false changed only the URL, status or tags. */
export interface ImportedArticle {
  readonly outcome: "created" | "updated" | "unchanged"
  readonly article: Article
  /** Whether the write made a new version and sent its `embed_article` job. */
  readonly embedding: boolean
}

const toArticle = (row: ArticleRow) => new Article(row)
const toSummary = (row: ArticleRow) => new ArticleSummary(row)

const articleNotFound = (id: string) => new ArticleNotFound({ message: `No article has the id ${id}` })
const productNotFound = (id: string) => new ProductNotFound({ message: `No product has the id ${id}` })

const defaultPageSize = 25
const defaultSearchResults = 5
/**
 * Passages each half (meaning, words) contributes: on the retrieval dev set, 100 found more
 * answers in the top 5 than 50 and as many as 200.
 */
export const candidatesPerHalf = 100
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

/**
 * How much of a passage's relevance comes from meaning (its cosine, scaled between the worst
 * and best found for the query); the rest comes from words (its BM25 over the best found).
 * Fitted on the retrieval dev set: with the builtin model, words tell answers apart better.
 */
export const meaningWeight = 0.3

/** An article's relevance: its best passage's, plus this much of its second best's. */
export const secondPassageWeight = 0.5

/** Each passage's relevance to the query, from 0 to 1, relative to the others found with it. */
export const relevanceOf = (hits: ReadonlyArray<PassageHit>) => {
  const similarities = hits.flatMap((hit) => hit.similarity === null ? [] : [hit.similarity])
  const lowest = Math.min(...similarities)
  const spread = Math.max(...similarities) - lowest
  const mostWords = Math.max(0, ...hits.map((hit) => hit.words))
  return hits.map((hit) => {
    const meaning = hit.similarity === null ? 0 : spread > 0 ? (hit.similarity - lowest) / spread : 1
    const words = mostWords > 0 ? hit.words / mostWords : 0
    return similarities.length === 0 ? words : meaningWeight * meaning + (1 - meaningWeight) * words
  })
}

/** An article found for a query: its search item, and what its best passage's score was made from. */
export interface ArticleMatch {
  readonly item: KbSearchItem
  readonly similarity: number | null
  readonly words: number
}

/**
 * One match per article, most relevant first: an article is as relevant as its best passage
 * plus half its second best (a page answering in two places is likelier the answer), and shows
 * its best passage. Its `score` is the best passage's calibrated score (`MatchScore`).
 */
export const bestPerArticle = (
  hits: ReadonlyArray<PassageHit>,
  model: MatchScore.ScoredModel | null
): Array<ArticleMatch> => {
  const relevance = relevanceOf(hits)
  const articles = new Map<string, { best: PassageHit; first: number; second: number }>()
  hits.forEach((hit, i) => {
    const value = relevance[i]!
    const article = articles.get(hit.articleId)
    if (article === undefined) articles.set(hit.articleId, { best: hit, first: value, second: 0 })
    else if (value > article.first) articles.set(hit.articleId, { best: hit, first: value, second: article.first })
    else article.second = Math.max(article.second, value)
  })
  return [...articles.values()]
    .map((article) => ({ ...article, total: article.first + secondPassageWeight * article.second }))
    .sort((x, y) => y.total - x.total || x.best.chunkId.localeCompare(y.best.chunkId))
    .map(({ best }) => ({
      item: new KbSearchItem({
        articleId: best.articleId,
        title: best.title,
        url: best.url,
        score: MatchScore.score(best, model),
        snippet: snippet(best.text),
        heading: best.heading
      }),
      similarity: best.similarity,
      words: best.words
    }))
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

    /**
     * An article read from a file (`pnpm kb import`), identified by its path in the product:
     * created the first time, updated when the file changed — a new title or body is a new
     * version, embedded again — and left alone when nothing changed. Fields `input` leaves out
     * (url, status, tags) keep the article's values, or take the defaults of `create`.
     */
    const importArticle = Effect.fn("Knowledge.importArticle")(
      function*(productId: ProductId, sourcePath: string, input: NewArticle) {
        yield* Effect.annotateCurrentSpan({ "product.id": productId })
        yield* requireProduct(productId)
        return yield* transactions.withTransaction(Effect.gen(function*() {
          let found = yield* repo.lockBySource({ productId, sourcePath })
          if (Option.isNone(found)) {
            const inserted = yield* repo.insertFromSource({
              productId,
              title: input.title,
              body: input.body,
              url: input.url ?? null,
              tags: input.tags ?? [],
              status: input.status ?? "published",
              sourcePath,
              createdBy: null
            })
            if (Option.isSome(inserted)) {
              yield* sendEmbedding(inserted.value)
              return { outcome: "created", article: toArticle(inserted.value), embedding: true } satisfies ImportedArticle
            }
            found = yield* repo.lockBySource({ productId, sourcePath }) // inserted meanwhile by another import
          }
          const current = yield* found
          const next = {
            title: input.title,
            body: input.body,
            url: input.url === undefined ? current.url : input.url,
            tags: input.tags ?? current.tags,
            status: input.status ?? current.status
          }
          const newVersion = next.title !== current.title || next.body !== current.body
          const sameTags = next.tags.length === current.tags.length && next.tags.every((tag, i) => tag === current.tags[i])
          if (!newVersion && next.url === current.url && next.status === current.status && sameTags) {
            return { outcome: "unchanged", article: toArticle(current), embedding: false } satisfies ImportedArticle
          }
          const updated = yield* repo.update({ id: current.id, ...next, newVersion })
          if (newVersion) yield* sendEmbedding(updated)
          return { outcome: "updated", article: toArticle(updated), embedding: newVersion } satisfies ImportedArticle
        }))
      },
      orDieUnexpected
    )

    /**
     * The paths of the product's articles imported from under `prefix` that are not in `keep`:
     * files removed from the folder since an earlier import. With `remove`, those articles are
     * deleted (with their passages and vectors).
     */
    const staleImports = Effect.fn("Knowledge.staleImports")(
      function*(productId: ProductId, prefix: string, keep: ReadonlyArray<string>, options: { readonly remove: boolean }) {
        return yield* options.remove
          ? repo.removeSourcesExcept({ productId, prefix, keep })
          : repo.sourcesExcept({ productId, prefix, keep })
      },
      orDieUnexpected
    )

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
     * How passages of a space are scored, kept per space id: a space's model never changes
     * (a new model makes a new space), and search should not pay a round trip to read it.
     */
    const scoredModels = new Map<number, MatchScore.ScoredModel>()
    const scoredModelOf = (spaceId: number) => {
      const known = scoredModels.get(spaceId)
      return known !== undefined
        ? Effect.succeed(known)
        : Effect.map(spaces.findById(spaceId), Option.match({
          onNone: () => null,
          onSome: (space) => {
            const model = MatchScore.modelOf(space)
            scoredModels.set(spaceId, model)
            return model
          }
        }))
    }

    /**
     * Passages of the product's published articles found by meaning and by words, each with
     * both scores (`bestPerArticle` ranks them). The query is embedded in the active space when
     * it can be; if the model cannot be reached, words alone rank (and scores say so: they come
     * from meaning only).
     */
    const searchPassages = Effect.fn("Knowledge.searchPassages")(function*(
      productId: ProductId,
      query: SearchQuery,
      /** The query's vector when the caller has it already (the match step embeds the case once). */
      given?: Option.Option<SpaceVector>
    ) {
      const vector = given ?? (yield* embeddings.queryVector(query.text).pipe(
        Effect.catchAll((error) =>
          Effect.as(Effect.logWarning("Knowledge: the query could not be embedded; searching by words").pipe(
            Effect.annotateLogs({ error: error._tag })
          ), Option.none<SpaceVector>())
        )
      ))
      const hits = yield* repo.searchPassages({
        productId,
        text: query.text,
        emphasis: query.emphasis,
        vector: Option.getOrNull(vector),
        candidates: candidatesPerHalf
      })
      const model = Option.isSome(vector) ? yield* scoredModelOf(vector.value.spaceId) : null
      return { hits, model }
    })

    const search = Effect.fn("Knowledge.search")(function*(productId: ProductId, q: string, limit: number | undefined) {
      yield* requireProduct(productId)
      const { hits, model } = yield* searchPassages(productId, { text: q })
      return new KbSearchResult({
        items: bestPerArticle(hits, model).slice(0, limit ?? defaultSearchResults).map((match) => match.item)
      })
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

    return { create, get, update, importArticle, staleImports, remove, list, search, searchPassages, embedArticle } as const
  }),
  dependencies: [Transactions.Default, KnowledgeRepo.Default, ProductsRepo.Default, EmbeddingSpacesRepo.Default, Embeddings.Default]
}) {}
