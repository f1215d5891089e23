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
  /** Reciprocal-rank fusion of the passage's ranks by meaning and by words. */
  fused: Schema.Number,
  /** Cosine similarity to the query in the space, when the passage has a vector there. */
  similarity: Schema.NullOr(Schema.Number),
  /** Whether full-text found it. */
  lexical: Schema.Boolean
}) {}

/** Reciprocal rank fusion's constant (Cormack et al.): ranks past the first few count for little. */
export const fusionK = 60

/**
 * The most words of a query the lexical half searches for (the first ones, commonest left
 * out): a case's whole text has a hundred, and ranking every passage holding any of them by
 * cover density took seconds at 100k passages (`pnpm bench kb`).
 */
export const maxQueryWords = 16

/**
 * The lexical half ranks by cover density (`ts_rank_cd`), which costs about three times what
 * `ts_rank` does: a long query's words can be in a thousand of a product's passages. So
 * `ts_rank` shortlists this many times `candidates` and `ts_rank_cd` orders those. On
 * `pnpm bench kb`'s corpus and 168 queries, the top 50 by cover density came out the same as
 * when every passage was ranked by it (up to ties) for all of them at 100k passages, and for
 * 165 at 10k (where fewer words count as common; 8 times made it all 168).
 */
export const lexicalShortlist = 4

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
     * Lexemes found in more than `minPassages` passages, by the planner's statistics of the
     * passages' full-text vectors (its most common elements and their frequencies, kept up to
     * date by ANALYZE). Empty until the table has been analysed, and for a small knowledge base.
     */
    const commonLexemes = (minPassages: number) =>
      Effect.map(
        sql<{ lexeme: string }>`
          select m.lexeme
          from pg_stats s
          join pg_class t on t.relname = s.tablename and t.relnamespace = to_regnamespace(s.schemaname)
          cross join lateral unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) as m (lexeme, share)
          where s.schemaname = current_schema() and s.tablename = 'article_chunks' and s.attname = 'search'
            and m.lexeme is not null and m.share * greatest(t.reltuples, 0) > ${minPassages}`,
        (rows) => rows.map((row) => row.lexeme)
      )

    /**
     * The query's words for the lexical half, any of them: its first `maxQueryWords` lexemes
     * that are not among `common` (a word in thousands of passages selects nothing and makes
     * every one of them to rank). Null when none is left: then the lexical half finds nothing.
     */
    const selectiveWords = (text: string, common: ReadonlyArray<string>) =>
      sql`(
        select string_agg(quote_literal(t.lexeme), ' | ')::tsquery from (
          select u.lexeme from unnest(to_tsvector('english', ${text})) as u
          -- quote_literal writes a lexeme with a backslash (chr 92) as E'…', which a tsquery does not read.
          where u.lexeme <> all(${textArray(common)}::text[]) and strpos(u.lexeme, chr(92)) = 0
          order by u.positions[1]
          limit ${maxQueryWords}
        ) t
      )`

    /**
     * The best `candidates` passages of the product's published articles by meaning (HNSW,
     * cosine, in the query's space) and by words (full-text, any of the query's first words
     * that are not `commonWords`, see `commonLexemes`), fused by reciprocal rank. Without a
     * vector, words alone.
     */
    const searchPassages = (input: {
      readonly productId: ProductId
      readonly text: string
      readonly vector: SpaceVector | null
      readonly candidates: number
      readonly commonWords?: ReadonlyArray<string> | undefined
    }) => Effect.suspend(() => {
      const { candidates, productId, text, vector } = input
      // The product is named on the passage and the vector, not the article as well: the planner
      // would count it twice, expect a handful of rows, and sort every vector of the product
      // rather than walk its HNSW index.
      const published = sql`a.status = 'published'`
      const lexical = sql`
        select chunk_id, row_number() over (order by lex desc) as rank from (
          select p.chunk_id, ts_rank_cd(p.search, p.q) as lex from (
            select c.id as chunk_id, c.search, w.q
            from article_chunks c join articles a on a.id = c.article_id
            cross join (select ${selectiveWords(text, input.commonWords ?? [])} as q) w
            -- The product's own full-text index, not everyone's.
            where c.product_id = ${productId} and ${published} and c.search @@ w.q
            order by ts_rank(c.search, w.q) desc
            limit ${candidates * lexicalShortlist}
          ) p
          order by lex desc
          limit ${candidates}
        ) l`
      if (vector === null) {
        return Effect.flatMap(
          sql`
            with lexical as (${lexical})
            select c.id as chunk_id, a.id as article_id, a.title, a.url, c.heading, c.text,
                   (1.0 / (${fusionK} + l.rank))::float8 as fused, null::float8 as similarity, true as lexical
            from lexical l join article_chunks c on c.id = l.chunk_id join articles a on a.id = c.article_id
            order by fused desc`,
          Schema.decodeUnknown(Schema.Array(PassageHit))
        )
      }
      const type = sql.literal(`vector(${dimensionsOf(vector)})`)
      const query = sql`${vectorLiteral(vector.vector)}::${type}`
      return Effect.flatMap(
        sql`
          with semantic as (
            select chunk_id, distance, row_number() over (order by distance) as rank from (
              select e.chunk_id, e.embedding::${type} <=> ${query} as distance
              from chunk_embeddings e
              join article_chunks c on c.id = e.chunk_id
              join articles a on a.id = c.article_id
              -- Space and product name the HNSW index holding only this product's vectors.
              where e.space_id = ${vector.spaceId} and e.product_id = ${productId} and ${published}
              order by e.embedding::${type} <=> ${query}
              limit ${candidates}
            ) s
          ),
          lexical as (${lexical}),
          fused as (
            select coalesce(s.chunk_id, l.chunk_id) as chunk_id, s.distance, l.rank is not null as lexical,
                   (coalesce(1.0 / (${fusionK} + s.rank), 0) + coalesce(1.0 / (${fusionK} + l.rank), 0))::float8 as fused
            from semantic s full join lexical l on l.chunk_id = s.chunk_id
          )
          -- A passage found by words alone has its distance looked up by key (a join was planned
          -- as a scan of the space's vectors).
          select c.id as chunk_id, a.id as article_id, a.title, a.url, c.heading, c.text, f.fused, f.lexical,
                 1 - coalesce(f.distance, (
                   select e.embedding::${type} <=> ${query} from chunk_embeddings e
                   where e.space_id = ${vector.spaceId} and e.chunk_id = f.chunk_id
                 )) as similarity
          from fused f
          join article_chunks c on c.id = f.chunk_id
          join articles a on a.id = c.article_id
          order by f.fused desc`,
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
      commonLexemes,
      searchPassages
    } as const
  })
}) {}
