/**
 * Embedding spaces and the vectors in them. Each space has its own partial HNSW indexes on
 * `embedding::vector(N)`, one per product, made when the space or the product is: a vector
 * column without a fixed dimension holds every space, and a search in one product of a space
 * uses the index made for that pair and its N. A vector carries its article's or case's product.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { CaseId } from "@nestfleet/domain/Cases"
import { Effect, Option, Schema } from "effect"
import { type SpaceVector, vectorLiteral } from "./KnowledgeRepo.js"
import { textArray } from "./PgArrays.js"
import { onUniqueViolation } from "./SqlErrors.js"

export const SpaceState = Schema.Literal("building", "active", "retired")
export type SpaceState = typeof SpaceState.Type

export class EmbeddingSpaceRow extends Schema.Class<EmbeddingSpaceRow>("EmbeddingSpaceRow")({
  id: Schema.Number,
  provider: Schema.String,
  model: Schema.String,
  dimensions: Schema.Number,
  state: SpaceState,
  createdAt: Schema.DateFromSelf,
  activatedAt: Schema.NullOr(Schema.DateFromSelf)
}) {}

export interface SpaceIdentity {
  readonly provider: string
  readonly model: string
  readonly dimensions: number
}

const Identity = Schema.Struct({ provider: Schema.String, model: Schema.String, dimensions: Schema.Number })

export class PendingChunk extends Schema.Class<PendingChunk>("PendingChunk")({
  id: Schema.String,
  heading: Schema.String,
  text: Schema.String
}) {}

export class EmbeddingSpacesRepo extends Effect.Service<EmbeddingSpacesRepo>()("@nestfleet/db/EmbeddingSpacesRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const inState = SqlSchema.findOne({
      Request: SpaceState,
      Result: EmbeddingSpaceRow,
      execute: (state) => sql`select * from embedding_spaces where state = ${state} order by id desc limit 1`
    })

    const findById = SqlSchema.findOne({
      Request: Schema.Number,
      Result: EmbeddingSpaceRow,
      execute: (id) => sql`select * from embedding_spaces where id = ${id}`
    })

    const findByIdentity = SqlSchema.findOne({
      Request: Identity,
      Result: EmbeddingSpaceRow,
      execute: (identity) =>
        sql`
          select * from embedding_spaces
          where provider = ${identity.provider} and model = ${identity.model} and dimensions = ${identity.dimensions}`
    })

    const insertRow = SqlSchema.single({
      Request: Schema.Struct({ ...Identity.fields, state: SpaceState }),
      Result: EmbeddingSpaceRow,
      execute: (row) =>
        sql`
          insert into embedding_spaces (provider, model, dimensions, state, activated_at)
          values (${row.provider}, ${row.model}, ${row.dimensions}, ${row.state},
                  case when ${row.state} = 'active' then now() end)
          returning *`
    })

    /**
     * The space's HNSW indexes, one per product on each table (`create_embedding_indexes`,
     * migration 008): searches are per product, and an index holding only the product's vectors
     * keeps HNSW from walking past everyone else's. A product made later gets its own with
     * `ProductsRepo.createIndexes`.
     */
    const createIndexes = (space: EmbeddingSpaceRow) =>
      sql`select create_embedding_indexes(${space.id}, p.id) from products p`.pipe(Effect.asVoid)

    /** A space no longer used: its vectors and indexes go. */
    const dropVectors = (id: number) =>
      Effect.all([
        sql`delete from chunk_embeddings where space_id = ${id}`,
        sql`delete from case_embeddings where space_id = ${id}`,
        sql`select drop_embedding_indexes(${id})`
      ], { discard: true })

    /**
     * The space for `identity` in `state`, made with its indexes; `undefined` when another
     * transaction made it first (the caller reads it again).
     */
    const create = (identity: SpaceIdentity, state: "building" | "active") =>
      Effect.tap(insertRow({ ...identity, state }), createIndexes).pipe(
        Effect.map(Option.some),
        onUniqueViolation("embedding_spaces_identity_unique", () => Effect.succeed(Option.none())),
        onUniqueViolation("embedding_spaces_one_active", () => Effect.succeed(Option.none())),
        onUniqueViolation("embedding_spaces_one_building", () => Effect.succeed(Option.none()))
      )

    const setState = (id: number, state: SpaceState) =>
      sql`
        update embedding_spaces
        set state = ${state}, activated_at = case when ${state} = 'active' then now() else activated_at end
        where id = ${id}`

    /** The building space becomes the active one; the one it replaces is retired and its vectors dropped. */
    const activate = (id: number) =>
      Effect.gen(function*() {
        const retired = yield* sql<{ id: number }>`
          update embedding_spaces set state = 'retired' where state = 'active' returning id`
        yield* setState(id, "active")
        for (const { id: old } of retired) yield* dropVectors(old)
      })

    /** Serialises changes of spaces across processes for the rest of the transaction. */
    const lockSpaces = sql`select pg_advisory_xact_lock(hashtext('nestfleet.embedding_spaces'))`

    const insertChunkVectors = (spaceId: number, vectors: ReadonlyArray<{ chunkId: string; vector: ReadonlyArray<number> }>) =>
      vectors.length === 0 ? Effect.void : sql`
        insert into chunk_embeddings (chunk_id, space_id, product_id, embedding)
        select v.chunk_id, ${spaceId}, a.product_id, v.embedding::vector
        from unnest(${textArray(vectors.map((v) => v.chunkId))}::uuid[],
                    ${textArray(vectors.map((v) => vectorLiteral(v.vector)))}::text[]) as v (chunk_id, embedding)
        join article_chunks c on c.id = v.chunk_id
        join articles a on a.id = c.article_id
        on conflict (space_id, chunk_id) do update set embedding = excluded.embedding`.pipe(Effect.asVoid)

    /** Passages without a vector in the space, oldest articles first: what a rebuild embeds next. */
    const chunksWithout = SqlSchema.findAll({
      Request: Schema.Struct({ spaceId: Schema.Number, limit: Schema.Number }),
      Result: PendingChunk,
      execute: ({ limit, spaceId }) =>
        sql`
          select c.id, c.heading, c.text from article_chunks c
          where not exists (select 1 from chunk_embeddings e where e.chunk_id = c.id and e.space_id = ${spaceId})
          order by c.article_id, c.ordinal
          limit ${limit}`
    })

    const caseVectorHash = (caseId: CaseId, spaceId: number) =>
      Effect.map(
        sql<{ contentHash: string }>`
          select content_hash from case_embeddings where case_id = ${caseId} and space_id = ${spaceId}`,
        (rows) => Option.fromNullable(rows[0]?.contentHash)
      )

    /** The case's vector of `contentHash` in the active space, as matching stored it. */
    const activeCaseVector = (caseId: CaseId, contentHash: string) =>
      Effect.map(
        sql<{ spaceId: number; dimensions: number; embedding: string }>`
          select e.space_id, s.dimensions, e.embedding::text as embedding
          from case_embeddings e join embedding_spaces s on s.id = e.space_id
          where e.case_id = ${caseId} and e.content_hash = ${contentHash} and s.state = 'active'`,
        (rows) =>
          Option.fromNullable(rows[0]).pipe(
            Option.map((row): SpaceVector => ({
              spaceId: row.spaceId,
              dimensions: row.dimensions,
              // pgvector writes a vector as [x,y,…]: JSON.
              vector: JSON.parse(row.embedding) as ReadonlyArray<number>
            }))
          )
      )

    const upsertCaseVector = (input: {
      readonly caseId: CaseId
      readonly spaceId: number
      readonly vector: ReadonlyArray<number>
      readonly contentHash: string
    }) =>
      sql`
        insert into case_embeddings (case_id, space_id, product_id, embedding, content_hash)
        select c.id, ${input.spaceId}, c.product_id, ${vectorLiteral(input.vector)}::vector, ${input.contentHash}
        from cases c where c.id = ${input.caseId}
        on conflict (space_id, case_id)
        do update set embedding = excluded.embedding, content_hash = excluded.content_hash, updated_at = now()`.pipe(
        Effect.asVoid
      )

    /** Cases without a vector in the space: a rebuild embeds them too. */
    const casesWithout = (spaceId: number, limit: number) =>
      Effect.map(
        sql<{ id: CaseId }>`
          select c.id from cases c
          where not exists (select 1 from case_embeddings e where e.case_id = c.id and e.space_id = ${spaceId})
          order by c.created_at
          limit ${limit}`,
        (rows) => rows.map((row) => row.id)
      )

    return {
      active: () => inState("active"),
      building: () => inState("building"),
      findById,
      findByIdentity,
      create,
      /** A building space given up for another model: nothing searches it, so its vectors and indexes go. */
      retire: (id: number) => Effect.zipRight(setState(id, "retired"), dropVectors(id)),
      /** A retired space chosen again: its vectors were dropped with its indexes, so both start afresh. */
      revive: (space: EmbeddingSpaceRow, state: "building" | "active") =>
        Effect.zipRight(setState(space.id, state), createIndexes(space)),
      activate,
      lockSpaces,
      insertChunkVectors,
      chunksWithout,
      caseVectorHash,
      activeCaseVector,
      upsertCaseVector,
      casesWithout
    } as const
  })
}) {}
