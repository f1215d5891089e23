/** The record of every model call: what it served, what it cost, how it ended. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { CaseId } from "@nestfleet/domain/Cases"
import { Effect, Schema } from "effect"

export class AiCallRow extends Schema.Class<AiCallRow>("AiCallRow")({
  step: Schema.NullOr(Schema.String),
  task: Schema.String,
  kind: Schema.Literal("completion", "embedding"),
  provider: Schema.String,
  model: Schema.String,
  inputTokens: Schema.NullOr(Schema.Number),
  outputTokens: Schema.NullOr(Schema.Number),
  latencyMs: Schema.Number,
  outcome: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}

export class AiCallsRepo extends Effect.Service<AiCallsRepo>()("@nestfleet/db/AiCallsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insert = (call: {
      readonly caseId: CaseId | null
      readonly step: string | null
      readonly task: string
      readonly kind: "completion" | "embedding"
      readonly provider: string
      readonly model: string
      readonly inputTokens: number | null
      readonly outputTokens: number | null
      readonly latencyMs: number
      readonly outcome: string
    }) =>
      sql`
        insert into ai_calls (case_id, step, task, kind, provider, model, input_tokens, output_tokens, latency_ms, outcome)
        values (${call.caseId}, ${call.step}, ${call.task}, ${call.kind}, ${call.provider}, ${call.model},
                ${call.inputTokens}, ${call.outputTokens}, ${Math.round(call.latencyMs)}, ${call.outcome})`.pipe(Effect.asVoid)

    const ofCase = SqlSchema.findAll({
      Request: CaseId,
      Result: AiCallRow,
      execute: (caseId) => sql`select * from ai_calls where case_id = ${caseId} order by created_at, id`
    })

    return { insert, ofCase } as const
  })
}) {}
