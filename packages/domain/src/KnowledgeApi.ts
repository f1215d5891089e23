/** The knowledge base: agents write articles, everyone reads and searches them. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { RequireAgent, RequireViewer } from "./Access.js"
import { Article, ArticleChanges, ArticleId, ArticlePage, ArticleStatus, KbSearchResult, NewArticle } from "./Knowledge.js"
import { ProductId } from "./Products.js"
import { ProductNotFound } from "./ProductsApi.js"
import { noNul } from "./Text.js"

const maxPageSize = 100
const maxSearchResults = 50

const Limit = (max: number) =>
  Schema.NumberFromString.pipe(
    Schema.int({ message: () => "limit must be a whole number" }),
    Schema.between(1, max, { message: () => `limit must be from 1 to ${max}` })
  )

const Query = Schema.String.pipe(noNul, Schema.maxLength(500, { message: () => "A search is at most 500 characters" }))

export const ArticleQuery = Schema.Struct({
  q: Schema.optional(Query),
  status: Schema.optional(ArticleStatus),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
  limit: Schema.optional(Limit(maxPageSize))
})
export type ArticleQuery = typeof ArticleQuery.Type

export const KbSearchQuery = Schema.Struct({
  q: Query.pipe(Schema.filter((q) => q.trim().length > 0 || "A search cannot be empty")),
  limit: Schema.optional(Limit(maxSearchResults))
})
export type KbSearchQuery = typeof KbSearchQuery.Type

export class ArticleNotFound extends Schema.TaggedError<ArticleNotFound>()(
  "ArticleNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404, description: "No article has this id." })
) {}

export class InvalidArticleCursor extends Schema.TaggedError<InvalidArticleCursor>()(
  "InvalidArticleCursor",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400, description: "The cursor is not one this API gave out." })
) {}

const ProductPath = Schema.Struct({ productId: ProductId })
const ArticlePath = Schema.Struct({ id: ArticleId })

export class KnowledgeApi extends HttpApiGroup.make("knowledge")
  .add(
    HttpApiEndpoint.post("create", "/products/:productId/articles")
      .setPath(ProductPath)
      .setPayload(NewArticle)
      .addSuccess(Article, { status: 201 })
      .addError(ProductNotFound)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Add an article (Markdown, at most 1 MiB); published unless status says draft")
  )
  .add(
    HttpApiEndpoint.get("list", "/products/:productId/articles")
      .setPath(ProductPath)
      .setUrlParams(ArticleQuery)
      .addSuccess(ArticlePage)
      .addError(ProductNotFound)
      .addError(InvalidArticleCursor)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "A product's articles, last changed first, or best first with q; pages through nextCursor")
  )
  .add(
    HttpApiEndpoint.get("get", "/articles/:id")
      .setPath(ArticlePath)
      .addSuccess(Article)
      .addError(ArticleNotFound)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "An article with its body and embedding state")
  )
  .add(
    HttpApiEndpoint.patch("update", "/articles/:id")
      .setPath(ArticlePath)
      .setPayload(ArticleChanges)
      .addSuccess(Article)
      .addError(ArticleNotFound)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Change some fields (the others are kept); a new title or body is embedded again")
  )
  .add(
    HttpApiEndpoint.del("delete", "/articles/:id")
      .setPath(ArticlePath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ArticleNotFound)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Delete an article and its passages")
  )
  .add(
    HttpApiEndpoint.get("search", "/products/:productId/kb/search")
      .setPath(ProductPath)
      .setUrlParams(KbSearchQuery)
      .addSuccess(KbSearchResult)
      .addError(ProductNotFound)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "Hybrid search of the product's published articles, best first, one item per article")
      .annotate(
        OpenApi.Description,
        "Passages found by meaning (pgvector, cosine) and by words (Okapi BM25), each scored both ways and ranked by " +
          "0.3 × the scaled cosine + 0.7 × the scaled BM25; an article ranks as its best passage plus half its second. " +
          "`score` is the calibrated probability that the article's best passage answers, from 0 to 1."
      )
  )
  .annotate(OpenApi.Title, "Knowledge base")
{}
