/** Known-issue matches: similar cases, each match run's result, the routing decision and duplicate marks. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { CaseId, CaseMatch, ReasoningStep, RoutingDecision } from "@nestfleet/domain/Cases"
import { ProductId } from "@nestfleet/domain/Products"
import { Effect, Option, Schema } from "effect"
import { dimensionsOf, type SpaceVector, vectorLiteral } from "./KnowledgeRepo.js"

/** Reciprocal rank fusion's constant (Cormack et al.): ranks past the first few count for little. */
export const fusionK = 60

export class CaseHit extends Schema.Class<CaseHit>("CaseHit")({
  caseId: CaseId,
  number: Schema.NumberFromString,
  subject: Schema.String,
  status: Schema.String,
  fused: Schema.Number,
  similarity: Schema.NullOr(Schema.Number)
}) {}


/** A match as stored in `match_results.matches`: the shape the case detail answers. */
export type StoredMatch = typeof CaseMatch.Type

export class MatchResultRow extends Schema.Class<MatchResultRow>("MatchResultRow")({
  caseId: CaseId,
  jobId: Schema.String,
  matches: Schema.Array(CaseMatch),
  reasoning: Schema.Array(ReasoningStep),
  decision: RoutingDecision,
  reason: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}

export const DuplicateState = Schema.Literal("suggested", "confirmed", "dismissed")
export type DuplicateState = typeof DuplicateState.Type

/** What matching left on the case: its routing and duplicate mark. */
export class MatchStateRow extends Schema.Class<MatchStateRow>("MatchStateRow")({
  routing: Schema.NullOr(Schema.Struct({ decision: RoutingDecision, reason: Schema.String, at: Schema.String })),
  duplicateOf: Schema.NullOr(CaseId),
  duplicateNumber: Schema.NullOr(Schema.NumberFromString),
  duplicateState: Schema.NullOr(DuplicateState),
  duplicateScore: Schema.NullOr(Schema.Number)
}) {}

export class MatchesRepo extends Effect.Service<MatchesRepo>()("@nestfleet/db/MatchesRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * The product's other cases most like this text: by meaning (the cases' vectors in the
     * query's space) and by the words of their subjects, fused by reciprocal rank.
     */
    const similarCases = (input: {
      readonly productId: ProductId
      readonly excludeCaseId: CaseId
      readonly text: string
      readonly vector: SpaceVector | null
      readonly candidates: number
    }) =>
      Effect.suspend(() => {
        const { candidates, excludeCaseId, productId, text, vector } = input
        const words = sql`replace(plainto_tsquery('english', ${text})::text, ' & ', ' | ')::tsquery`
        const lexical = sql`
          select case_id, row_number() over (order by lex desc) as rank from (
            select c.id as case_id, ts_rank_cd(to_tsvector('english', c.subject), w.q) as lex
            from cases c cross join (select ${words} as q) w
            where c.product_id = ${productId} and c.id <> ${excludeCaseId} and to_tsvector('english', c.subject) @@ w.q
            order by lex desc
            limit ${candidates}
          ) l`
        const semantic = vector === null
          ? sql`select null::uuid as case_id, null::float8 as distance, null::bigint as rank where false`
          : (() => {
            const type = sql.literal(`vector(${dimensionsOf(vector)})`)
            const query = sql`${vectorLiteral(vector.vector)}::${type}`
            return sql`
              select case_id, distance, row_number() over (order by distance) as rank from (
                select e.case_id, e.embedding::${type} <=> ${query} as distance
                from case_embeddings e join cases c on c.id = e.case_id
                -- Space and product name the HNSW index holding only this product's vectors.
                where e.space_id = ${vector.spaceId} and e.product_id = ${productId} and c.id <> ${excludeCaseId}
                order by e.embedding::${type} <=> ${query}
                limit ${candidates}
              ) s`
          })()
        // A case found by words alone has its distance looked up by key.
        const similarity = vector === null
          ? sql`null::float8`
          : (() => {
            const type = sql.literal(`vector(${dimensionsOf(vector)})`)
            return sql`1 - coalesce(f.distance, (
              select e.embedding::${type} <=> ${vectorLiteral(vector.vector)}::${type} from case_embeddings e
              where e.space_id = ${vector.spaceId} and e.case_id = f.case_id
            ))`
          })()
        return Effect.flatMap(
          sql`
            with semantic as (${semantic}), lexical as (${lexical}),
            fused as (
              select coalesce(s.case_id, l.case_id) as case_id, s.distance,
                     (coalesce(1.0 / (${fusionK} + s.rank), 0) + coalesce(1.0 / (${fusionK} + l.rank), 0))::float8 as fused
              from semantic s full join lexical l on l.case_id = s.case_id
            )
            select c.id as case_id, c.number::text as number, c.subject, c.status, f.fused, ${similarity} as similarity
            from fused f join cases c on c.id = f.case_id
            order by f.fused desc`,
          Schema.decodeUnknown(Schema.Array(CaseHit))
        )
      })

    /** A match run's result, once per job: `none` when this job stored one before. */
    const insertResult = (row: Omit<MatchResultRow, "createdAt">) =>
      Effect.map(
        sql<{ id: string }>`
          insert into match_results (case_id, job_id, matches, reasoning, decision, reason)
          values (${row.caseId}, ${row.jobId}, ${JSON.stringify(row.matches)}::jsonb,
                  ${JSON.stringify(row.reasoning)}::jsonb, ${row.decision}, ${row.reason})
          on conflict (job_id) do nothing
          returning id`,
        (rows) => rows.length > 0 ? Option.some(rows[0]!.id) : Option.none()
      )

    const latestResult = SqlSchema.findOne({
      Request: CaseId,
      Result: MatchResultRow,
      execute: (caseId) =>
        sql`select * from match_results where case_id = ${caseId} order by created_at desc, id desc limit 1`
    })

    const stateOf = SqlSchema.findOne({
      Request: CaseId,
      Result: MatchStateRow,
      execute: (caseId) =>
        sql`
          select c.routing, c.duplicate_of, d.number::text as duplicate_number, c.duplicate_state, c.duplicate_score
          from cases c left join cases d on d.id = c.duplicate_of
          where c.id = ${caseId}`
    })

    const setRouting = (caseId: CaseId, routing: { decision: RoutingDecision; reason: string; at: string }) =>
      sql`update cases set routing = ${JSON.stringify(routing)}::jsonb, updated_at = now() where id = ${caseId}`

    /** Marks a likely duplicate, unless a person already confirmed or dismissed one for the case. */
    const suggestDuplicate = (caseId: CaseId, of: CaseId, score: number) =>
      Effect.map(
        sql<{ id: string }>`
          update cases set duplicate_of = ${of}, duplicate_state = 'suggested', duplicate_score = ${score}
          where id = ${caseId} and (duplicate_state is null or duplicate_state = 'suggested')
          returning id`,
        (rows) => rows.length > 0
      )

    const setDuplicate = (caseId: CaseId, of: CaseId | null, state: DuplicateState, score: number | null) =>
      sql`
        update cases set duplicate_of = ${of}, duplicate_state = ${state}, duplicate_score = ${score}, updated_at = now()
        where id = ${caseId}`

    return {
      similarCases,
      insertResult,
      latestResult,
      stateOf,
      setRouting,
      suggestDuplicate,
      setDuplicate
    } as const
  })
}) {}
