/** Knowledge-base articles and their passages, with the passages' full-text vectors. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { ArticleId, ArticleStatus, EmbeddingState } from "@nestfleet/domain/Knowledge"
import { ProductId } from "@nestfleet/domain/Products"
import { UserId } from "@nestfleet/domain/Users"
import { Effect, Schema } from "effect"
import { textArray } from "./PgArrays.js"

export class ArticleRow extends Schema.Class<ArticleRow>("ArticleRow")({
  id: ArticleId,
  productId: ProductId,
  title: Schema.String,
  body: Schema.String,
  url: Schema.NullOr(Schema.String),
  tags: Schema.Array(Schema.String),
  status: ArticleStatus,
  version: Schema.Number,
  sourcePath: Schema.NullOr(Schema.String),
  embeddingState: EmbeddingState,
  embeddedVersion: Schema.NullOr(Schema.Number),
  createdBy: Schema.NullOr(UserId),
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf
}) {}

const ArticleFields = Schema.Struct({
  title: Schema.String,
  body: Schema.String,
  url: Schema.NullOr(Schema.String),
  tags: Schema.Array(Schema.String),
  status: ArticleStatus
})
export type ArticleFields = typeof ArticleFields.Type

const NewArticleRow = Schema.Struct({
  productId: ProductId,
  ...ArticleFields.fields,
  sourcePath: Schema.NullOr(Schema.String),
  createdBy: Schema.NullOr(UserId)
})

export interface ArticleListFilter {
  readonly productId: ProductId
  readonly q?: string | undefined
  readonly status?: ArticleStatus | undefined
  readonly offset: number
  readonly limit: number
}

export interface ChunkInput {
  readonly ordinal: number
  readonly heading: string
  readonly text: string
}

/** A query vector in a space: `dimensions` fixes the cast that the space's HNSW index is built on. */
export interface SpaceVector {
  readonly spaceId: number
  readonly dimensions: number
  readonly vector: ReadonlyArray<number>
}

/** pgvector's text form of a vector. */
/** A dimension count, checked: it is written into the statement as the cast's type modifier. */
export const dimensionsOf = (vector: SpaceVector) => {
  if (!Number.isInteger(vector.dimensions) || vector.dimensions < 1 || vector.dimensions > 2000) {
    throw new RangeError(`Not a dimension count: ${vector.dimensions}`) // a defect: counts come from embedding_spaces
  }
  return vector.dimensions
}

export const vectorLiteral = (vector: ReadonlyArray<number>) => `[${vector.join(",")}]`

export class PassageHit extends Schema.Class<PassageHit>("PassageHit")({
  chunkId: Schema.String,
  articleId: ArticleId,
  title: Schema.String,
  url: Schema.NullOr(Schema.String),
  heading: Schema.String,
  text: Schema.String,
  /** Cosine similarity to the query in the space, when the passage has a vector there. */
  similarity: Schema.NullOr(Schema.Number),
  /**
   * How much of the query's words the passage holds, from 0 to 1: its Okapi BM25 over the most
   * the query could score (each of its words in the passage endlessly often). 0 when it holds
   * none of them.
   */
  words: Schema.Number
}) {}

/**
 * The most words of a query ranked by (its first distinct ones): a case's whole text has
 * hundreds. On the retrieval dev set 32 found as many answers in the top 5 as every word did,
 * and 16 fewer (0.59 against 0.66).
 */
export const maxQueryWords = 32

/**
 * The most passages the word half scores, about: passages are selected by the query's rarest
 * words, taken rarest first while the passages holding them add up to at most this; the other
 * words still count, little as BM25 weighs them, in the passages selected. Scoring every
 * passage holding any of a long query's words took over 100 ms in a product of 21k passages
 * (`pnpm bench kb`); on the retrieval dev set this budget found as many answers in the top 5
 * as none did (500 lost one in 53).
 */
export const selectionBudget = 1000

/**
 * Okapi BM25's parameters (Robertson et al.), the usual ones: how fast a word's repeats stop
 * counting, and how much a passage's length (against the product's average) discounts them.
 */
export const bm25 = { k1: 1.2, b: 0.75 } as const

export class KnowledgeRepo extends Effect.Service<KnowledgeRepo>()("@nestfleet/db/KnowledgeRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertStatement = (row: typeof NewArticleRow.Encoded) =>
      sql`
        insert into articles (product_id, title, body, url, tags, status, source_path, created_by)
        values (${row.productId}, ${row.title}, ${row.body}, ${row.url}, ${textArray(row.tags)}::text[],
                ${row.status}, ${row.sourcePath}, ${row.createdBy})`

    const insert = SqlSchema.single({
      Request: NewArticleRow,
      Result: ArticleRow,
      execute: (row) => sql`${insertStatement(row)} returning *`
    })

    const findById = SqlSchema.findOne({
      Request: ArticleId,
      Result: ArticleRow,
      execute: (id) => sql`select * from articles where id = ${id}`
    })

    /** The article, locked until the transaction ends: changes and embedding results take turns on it. */
    const lock = SqlSchema.findOne({
      Request: ArticleId,
      Result: ArticleRow,
      execute: (id) => sql`select * from articles where id = ${id} for update`
    })

    const lockBySource = SqlSchema.findOne({
      Request: Schema.Struct({ productId: ProductId, sourcePath: Schema.String }),
      Result: ArticleRow,
      execute: ({ productId, sourcePath }) =>
        sql`select * from articles where product_id = ${productId} and source_path = ${sourcePath} for update`
    })

    /**
     * A new article read from `sourcePath`, or none when the product has one from that path
     * already: a concurrent import inserted it (this waits for that transaction, then leaves
     * its row alone; the caller locks it with `lockBySource`).
     */
    const insertFromSource = SqlSchema.findOne({
      Request: Schema.Struct({ ...NewArticleRow.fields, sourcePath: Schema.String }),
      Result: ArticleRow,
      execute: (row) => sql`${insertStatement(row)} on conflict on constraint articles_source_unique do nothing returning *`
    })

    /** The paths of the product's articles imported from under `prefix` that are not in `keep`. */
    const sourcesExcept = (input: {
      readonly productId: ProductId
      readonly prefix: string
      readonly keep: ReadonlyArray<string>
    }) =>
      Effect.map(
        sql<{ sourcePath: string }>`
          select source_path from articles
          where product_id = ${input.productId}
            and starts_with(source_path, ${input.prefix})
            and source_path <> all(${textArray(input.keep)}::text[])
          order by source_path`,
        (rows) => rows.map((row) => row.sourcePath)
      )

    /**
     * Deletes the product's articles imported from under `prefix` whose path is not in `keep`
     * (files gone from the folder); answers their paths.
     */
    const removeSourcesExcept = (input: {
      readonly productId: ProductId
      readonly prefix: string
      readonly keep: ReadonlyArray<string>
    }) =>
      Effect.map(
        sql<{ sourcePath: string }>`
          delete from articles
          where product_id = ${input.productId}
            and starts_with(source_path, ${input.prefix})
            and source_path <> all(${textArray(input.keep)}::text[])
          returning source_path`,
        (rows) => rows.map((row) => row.sourcePath).sort()
      )

    /** Replaces the fields; a new title or body is a new version, waiting to be embedded. */
    const update = SqlSchema.single({
      Request: Schema.Struct({ id: ArticleId, ...ArticleFields.fields, newVersion: Schema.Boolean }),
      Result: ArticleRow,
      execute: (row) =>
        sql`
          update articles
          set title = ${row.title}, body = ${row.body}, url = ${row.url}, tags = ${textArray(row.tags)}::text[],
              status = ${row.status}, updated_at = now(),
              version = case when ${row.newVersion} then version + 1 else version end,
              embedding_state = case when ${row.newVersion} then 'pending' else embedding_state end
          where id = ${row.id}
          returning *`
    })

    const remove = (id: ArticleId) =>
      Effect.map(sql<{ id: string }>`delete from articles where id = ${id} returning id`, (rows) => rows.length > 0)

    /**
     * A query's words joined by OR: plainto_tsquery asks for every word, and a question's
     * words are rarely all in the passage that answers it. Ranking puts passages holding more
     * of them first.
     */
    const anyWord = (text: string) => sql`replace(plainto_tsquery('english', ${text})::text, ' & ', ' | ')::tsquery`

    const articleDocument = sql`to_tsvector('english', title || ' ' || left(body, 100000))`

    /** Last changed first; with `q`, best match first (full-text over title and body). One more than `limit`, to tell a next page. */
    const list = (filter: ArticleListFilter) => {
      const q = filter.q?.trim() ?? ""
      const clauses = [sql`product_id = ${filter.productId}`]
      if (filter.status !== undefined) clauses.push(sql`status = ${filter.status}`)
      if (q.length > 0) clauses.push(sql`${articleDocument} @@ ${anyWord(q)}`)
      const order = q.length > 0
        ? sql`ts_rank_cd(${articleDocument}, ${anyWord(q)}) desc, updated_at desc, id desc`
        : sql`updated_at desc, id desc`
      return Effect.flatMap(
        sql`
          select * from articles where ${sql.and(clauses)}
          order by ${order}
          limit ${filter.limit + 1} offset ${filter.offset}`,
        Schema.decodeUnknown(Schema.Array(ArticleRow))
      )
    }

    /** The article's passages, replaced: what was there before is deleted with its vectors. */
    const replaceChunks = (articleId: ArticleId, chunks: ReadonlyArray<ChunkInput>) =>
      Effect.zipRight(
        sql`delete from article_chunks where article_id = ${articleId}`,
        sql<{ id: string; ordinal: number }>`
          insert into article_chunks (article_id, product_id, ordinal, heading, text, search)
          select ${articleId}, (select product_id from articles where id = ${articleId}), c.ordinal, c.heading, c.text,
                 setweight(to_tsvector('english', c.heading), 'A') || to_tsvector('english', left(c.text, 100000))
          from unnest(${textArray(chunks.map((chunk) => String(chunk.ordinal)))}::int[],
                      ${textArray(chunks.map((chunk) => chunk.heading))}::text[],
                      ${textArray(chunks.map((chunk) => chunk.text))}::text[]) as c (ordinal, heading, text)
          returning id, ordinal`
      )

    /** The embedding outcome of one version; a newer version waiting is left as it is. */
    const markEmbedding = (id: ArticleId, version: number, state: EmbeddingState) =>
      sql`
        update articles
        set embedding_state = ${state},
            embedded_version = case when ${state} = 'ready' then ${version} else embedded_version end
        where id = ${id} and version = ${version}`

    /**
     * The best `candidates` passages of the product's published articles by meaning (HNSW,
     * cosine, in the query's space) and by words (Okapi BM25), both halves with both scores.
     *
     * The words are the first `maxQueryWords` distinct lexemes of `text`; those of `emphasis`
     * (a case's subject, which `text` starts with) count twice. A passage's term frequency
     * counts a heading occurrence three times (see migration 009); the inverse document
     * frequency and average length are the product's (`passage_lexemes`, `passage_totals`).
     * Passages are selected by the query's rarest words (see `selectionBudget`) through the
     * product's full-text index, then scored by all of them.
     */
    const searchPassages = (input: {
      readonly productId: ProductId
      readonly text: string
      readonly emphasis?: string | undefined
      readonly vector: SpaceVector | null
      readonly candidates: number
    }) => Effect.suspend(() => {
      const { candidates, productId, vector } = input
      // The product is named on the passage and the vector, not the article as well: the planner
      // would count it twice, expect a handful of rows, and sort every vector of the product
      // rather than walk its HNSW index.
      const published = sql`a.status = 'published'`
      const [k1, b] = [sql.literal(`${bm25.k1}::float8`), sql.literal(`${bm25.b}::float8`)]
      const queryWords = sql`
        totals as (
          select t.passages, t.total_length::float8 / greatest(t.passages, 1) as average_length
          from passage_totals t where t.product_id = ${productId}
        ),
        query_words as (
          select u.lexeme,
                 1 + (u.lexeme = any(tsvector_to_array(to_tsvector('english', ${input.emphasis ?? ""}))))::int as weight
          from unnest(to_tsvector('english', ${input.text})) as u
          -- quote_literal writes a lexeme with a backslash (chr 92) as E'…', which a tsquery does not read.
          where strpos(u.lexeme, chr(92)) = 0
          order by u.positions[1]
          limit ${maxQueryWords}
        ),
        terms as (
          select w.lexeme, w.weight, coalesce(l.passages, 0) as passages,
                 ln(1 + (t.passages - coalesce(l.passages, 0) + 0.5) / (coalesce(l.passages, 0) + 0.5)) as idf
          from query_words w cross join totals t
          left join passage_lexemes l on l.product_id = ${productId} and l.lexeme = w.lexeme
        ),
        -- Rarest first, while the passages holding them add up to at most the budget.
        selective as (
          select string_agg(quote_literal(lexeme), ' | ')::tsquery as q from (
            select lexeme, sum(passages) over (order by passages, lexeme) as running from terms where passages > 0
          ) t
          where running <= ${selectionBudget}
        ),
        -- The words as arrays (a passage looks its words up in them), and the most they could score;
        -- made once, not once a passage.
        scoring as materialized (
          select array_agg(t.lexeme) as lexemes, array_agg(t.weight * t.idf) as weights,
                 nullif(sum(t.weight * t.idf) * (${k1} + 1), 0) as ceiling,
                 (select average_length from totals) as average_length
          from terms t
        )`
      // The BM25 share of the passage `c`, from its lexemes that are the query's, with their
      // positions: the passage less what it holds besides them (cheaper than unnesting all of
      // it). A heading occurrence counts 3.
      const tf = sql`(cardinality(u.positions) + 2 * cardinality(array_positions(u.weights, 'A')))`
      const passageWords = sql`(
        select coalesce(sum(k.weights[array_position(k.lexemes, u.lexeme)] * ${tf} * (${k1} + 1)
                            / (${tf} + ${k1} * (1 - ${b} + ${b} * c.search_length / k.average_length))) / k.ceiling, 0)::float8
        from unnest(ts_delete(c.search, tsvector_to_array(ts_delete(c.search, k.lexemes)))) as u
      )`
      // Scored and sorted before the articles are read: only as many are looked up as it takes
      // to find the best published ones (drafts are few), not one per passage scored.
      const lexical = sql`
        lexical as (
          select r.chunk_id, r.words from (
            select c.id as chunk_id, c.article_id, ${passageWords} as words
            from article_chunks c cross join selective s cross join scoring k
            -- The product's own full-text index, not everyone's.
            where c.product_id = ${productId} and c.search @@ s.q
            order by words desc
            offset 0
          ) r
          join articles a on a.id = r.article_id
          where ${published}
          limit ${candidates}
        )`
      const columns = sql`c.id as chunk_id, a.id as article_id, a.title, a.url, c.heading, c.text`
      if (vector === null) {
        return Effect.flatMap(
          sql`
            with ${queryWords}, ${lexical}
            select ${columns}, null::float8 as similarity, l.words
            from lexical l join article_chunks c on c.id = l.chunk_id join articles a on a.id = c.article_id
            order by l.words desc`,
          Schema.decodeUnknown(Schema.Array(PassageHit))
        )
      }
      const type = sql.literal(`vector(${dimensionsOf(vector)})`)
      const query = sql`${vectorLiteral(vector.vector)}::${type}`
      return Effect.flatMap(
        sql`
          with ${queryWords}, ${lexical},
          semantic as (
            select e.chunk_id, e.embedding::${type} <=> ${query} as distance
            from chunk_embeddings e
            join article_chunks c on c.id = e.chunk_id
            join articles a on a.id = c.article_id
            -- Space and product name the HNSW index holding only this product's vectors.
            where e.space_id = ${vector.spaceId} and e.product_id = ${productId} and ${published}
            order by e.embedding::${type} <=> ${query}
            limit ${candidates}
          ),
          found as (
            select coalesce(s.chunk_id, l.chunk_id) as chunk_id, s.distance, l.words
            from semantic s full join lexical l on l.chunk_id = s.chunk_id
          )
          -- What one half found is scored by the other too: a passage found by words alone has
          -- its distance looked up by key (a join was planned as a scan of the space's vectors).
          select ${columns},
                 1 - coalesce(f.distance, (
                   select e.embedding::${type} <=> ${query} from chunk_embeddings e
                   where e.space_id = ${vector.spaceId} and e.chunk_id = f.chunk_id
                 )) as similarity,
                 coalesce(f.words, ${passageWords}) as words
          from found f
          join article_chunks c on c.id = f.chunk_id
          join articles a on a.id = c.article_id
          cross join scoring k`,
        Schema.decodeUnknown(Schema.Array(PassageHit))
      )
    })

    return {
      insert,
      insertFromSource,
      findById,
      lock,
      lockBySource,
      update,
      remove,
      sourcesExcept,
      removeSourcesExcept,
      list,
      replaceChunks,
      markEmbedding,
      searchPassages
    } as const
  })
}) {}
