/** The knowledge base: articles per product, what search finds in them, and how matches are scored. */
import { Schema } from "effect"
import { ProductId } from "./Products.js"
import { noNul } from "./Text.js"
import { UserId } from "./Users.js"

export const ArticleId = Schema.UUID.pipe(Schema.brand("ArticleId"))
export type ArticleId = typeof ArticleId.Type

export const ArticleStatus = Schema.Literal("published", "draft").pipe(
  Schema.annotations({ description: "published: searched and matched; draft: kept, found by nobody." })
)
export type ArticleStatus = typeof ArticleStatus.Type

/** Whether the article's current version is searchable by meaning yet (full-text finds it at once). */
export const EmbeddingState = Schema.Literal("pending", "ready", "failed")
export type EmbeddingState = typeof EmbeddingState.Type

/** A Markdown body is at most 1 MiB of UTF-8. */
export const maxBodyBytes = 1024 * 1024

const encoder = new TextEncoder()

/** A string of at most a third of the limit in UTF-16 units fits whatever it holds: counted only when longer. */
const fitsBodyLimit = (text: string) => text.length * 3 <= maxBodyBytes || encoder.encode(text).length <= maxBodyBytes

const Title = Schema.Trim.pipe(
  noNul,
  Schema.minLength(1, { message: () => "A title cannot be empty" }),
  Schema.maxLength(300, { message: () => "A title is at most 300 characters" })
)

export const ArticleBody = Schema.String.pipe(
  noNul,
  Schema.filter((body) => body.trim().length > 0 || "A body cannot be empty"),
  Schema.filter((body) => fitsBodyLimit(body) || "A body is at most 1 MiB of UTF-8")
)

export const ArticleUrl = Schema.String.pipe(
  noNul,
  Schema.maxLength(2000, { message: () => "A URL is at most 2000 characters" }),
  Schema.filter((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol) || "Expected an http(s) URL")
)

const Tag = Schema.Trim.pipe(
  noNul,
  Schema.minLength(1, { message: () => "A tag cannot be empty" }),
  Schema.maxLength(64, { message: () => "A tag is at most 64 characters" })
)
export const Tags = Schema.Array(Tag).pipe(Schema.maxItems(50, { message: () => "At most 50 tags" }))

export class Article extends Schema.Class<Article>("Article")({
  id: ArticleId,
  productId: ProductId,
  title: Schema.String,
  body: Schema.String,
  url: Schema.NullOr(Schema.String),
  tags: Schema.Array(Schema.String),
  status: ArticleStatus,
  version: Schema.Number,
  embeddingState: EmbeddingState,
  createdBy: Schema.NullOr(UserId),
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}

/** An article in a list: everything but its body. */
export class ArticleSummary extends Schema.Class<ArticleSummary>("ArticleSummary")({
  id: ArticleId,
  productId: ProductId,
  title: Schema.String,
  url: Schema.NullOr(Schema.String),
  tags: Schema.Array(Schema.String),
  status: ArticleStatus,
  version: Schema.Number,
  embeddingState: EmbeddingState,
  updatedAt: Schema.Date
}) {}

export class NewArticle extends Schema.Class<NewArticle>("NewArticle")({
  title: Title,
  body: ArticleBody,
  url: Schema.optional(Schema.NullOr(ArticleUrl)),
  tags: Schema.optional(Tags),
  status: Schema.optional(ArticleStatus)
}) {}

export class ArticleChanges extends Schema.Class<ArticleChanges>("ArticleChanges")({
  title: Schema.optional(Title),
  body: Schema.optional(ArticleBody),
  url: Schema.optional(Schema.NullOr(ArticleUrl)),
  tags: Schema.optional(Tags),
  status: Schema.optional(ArticleStatus)
}) {}

export class ArticlePage extends Schema.Class<ArticlePage>("ArticlePage")({
  items: Schema.Array(ArticleSummary),
  nextCursor: Schema.NullOr(Schema.String)
}) {}

/**
 * One article found by a search. `score` is the calibrated relevance of its best passage, from
 * 0 to 1: about the probability that the passage answers the query, the same scale whatever the
 * embedding model (see `MatchScore`), so a product's `matchMinSimilarity` means one thing.
 */
export class KbSearchItem extends Schema.Class<KbSearchItem>("KbSearchItem")({
  articleId: ArticleId,
  title: Schema.String,
  url: Schema.NullOr(Schema.String),
  score: Schema.Number,
  snippet: Schema.String,
  heading: Schema.String
}) {}

export class KbSearchResult extends Schema.Class<KbSearchResult>("KbSearchResult")({
  items: Schema.Array(KbSearchItem)
}) {}
