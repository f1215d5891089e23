/** Change-prep drafts, one per job, newest per case first. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { CaseId } from "@nestfleet/domain/Cases"
import { ChangePrep } from "@nestfleet/domain/ChangePreps"
import { Effect, Schema } from "effect"

/** What a change-prep drafts, as stored in `change_preps.draft`. */
export const ChangePrepDraft = Schema.Struct(ChangePrep.fields).pipe(Schema.omit("caseId", "author", "createdAt"))
export type ChangePrepDraft = typeof ChangePrepDraft.Type

export class ChangePrepRow extends Schema.Class<ChangePrepRow>("ChangePrepRow")({
  caseId: CaseId,
  jobId: Schema.String,
  draft: ChangePrepDraft,
  author: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}

export class ChangePrepsRepo extends Effect.Service<ChangePrepsRepo>()("@nestfleet/db/ChangePrepsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** Stores a job's draft; `false` when that job stored one before (a retry). */
    const insert = (row: Omit<ChangePrepRow, "createdAt">) =>
      Effect.map(
        sql<{ id: string }>`
          insert into change_preps (case_id, job_id, draft, author)
          values (${row.caseId}, ${row.jobId}, ${JSON.stringify(Schema.encodeSync(ChangePrepDraft)(row.draft))}::jsonb, ${row.author})
          on conflict (job_id) do nothing
          returning id`,
        (rows) => rows.length > 0
      )

    const findByJob = (jobId: string) =>
      Effect.map(sql<{ id: string }>`select id from change_preps where job_id = ${jobId}`, (rows) => rows.length > 0)

    const latest = SqlSchema.findOne({
      Request: CaseId,
      Result: ChangePrepRow,
      execute: (caseId) =>
        sql`select * from change_preps where case_id = ${caseId} order by created_at desc, id desc limit 1`
    })

    return { insert, findByJob, latest } as const
  })
}) {}
