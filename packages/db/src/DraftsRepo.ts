/** Reply drafts and their versions, and the approval queue. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { CaseId, CaseType, MessageId, ReasoningStep } from "@nestfleet/domain/Cases"
import { Citation, DraftAuthor, DraftId, DraftStatus } from "@nestfleet/domain/Drafts"
import { ProductId } from "@nestfleet/domain/Products"
import { UserId } from "@nestfleet/domain/Users"
import { Effect, Schema } from "effect"
import { keyOf } from "./KeysetTime.js"

export class DraftRow extends Schema.Class<DraftRow>("DraftRow")({
  id: DraftId,
  caseId: CaseId,
  latestVersion: Schema.Number
}) {}

export class DraftVersionRow extends Schema.Class<DraftVersionRow>("DraftVersionRow")({
  draftId: DraftId,
  caseId: CaseId,
  version: Schema.Number,
  status: DraftStatus,
  body: Schema.String,
  citations: Schema.Array(Citation),
  author: DraftAuthor,
  reasoning: Schema.Array(ReasoningStep),
  jobId: Schema.NullOr(Schema.String),
  answersMessageId: Schema.NullOr(MessageId),
  decision: Schema.NullOr(Schema.String),
  decidedBy: Schema.NullOr(UserId),
  decidedAt: Schema.NullOr(Schema.DateFromSelf),
  createdAt: Schema.DateFromSelf,
  /** `created_at` at full precision, for the approval queue's keyset cursor. */
  createdAtKey: Schema.String
}) {}

/** A version waiting for approval, with what the queue shows of its case. */
export class PendingApprovalRow extends Schema.Class<PendingApprovalRow>("PendingApprovalRow")({
  draftId: DraftId,
  version: Schema.Number,
  body: Schema.String,
  createdAt: Schema.DateFromSelf,
  createdAtKey: Schema.String,
  caseId: CaseId,
  caseNumber: Schema.NumberFromString,
  subject: Schema.String,
  productId: ProductId,
  type: Schema.NullOr(CaseType),
  assigneeId: Schema.NullOr(UserId)
}) {}

/** A version as written: what the statement numbers, stamps and joins left out. */
const NewVersion = Schema.Struct(DraftVersionRow.fields).pipe(
  Schema.omit("caseId", "version", "decidedAt", "createdAt", "createdAtKey")
)

export class DraftsRepo extends Effect.Service<DraftsRepo>()("@nestfleet/db/DraftsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const versionColumns = sql.literal(`v.*, d.case_id, ${keyOf("v.created_at")} as created_at_key`)

    /** The case's draft, made if it has none, and locked for the rest of the transaction. */
    const lockForCase = SqlSchema.single({
      Request: CaseId,
      Result: DraftRow,
      execute: (caseId) =>
        sql`
          insert into drafts (case_id) values (${caseId})
          on conflict (case_id) do update set updated_at = now()
          returning *`
    })

    /** The draft, locked for the rest of the transaction. */
    const lock = SqlSchema.findOne({
      Request: DraftId,
      Result: DraftRow,
      execute: (id) => sql`select * from drafts where id = ${id} for update`
    })

    const findById = SqlSchema.findOne({
      Request: DraftId,
      Result: DraftRow,
      execute: (id) => sql`select * from drafts where id = ${id}`
    })

    const findByCase = SqlSchema.findOne({
      Request: CaseId,
      Result: DraftRow,
      execute: (caseId) => sql`select * from drafts where case_id = ${caseId}`
    })

    /** The version an auto_reply job wrote, if it wrote one (a retry finds it). */
    const versionByJob = SqlSchema.findOne({
      Request: Schema.String,
      Result: DraftVersionRow,
      execute: (jobId) =>
        sql`select ${versionColumns} from draft_versions v join drafts d on d.id = v.draft_id where v.job_id = ${jobId}`
    })

    const findVersion = SqlSchema.findOne({
      Request: Schema.Struct({ draftId: DraftId, version: Schema.Number }),
      Result: DraftVersionRow,
      execute: ({ draftId, version }) =>
        sql`
          select ${versionColumns} from draft_versions v join drafts d on d.id = v.draft_id
          where v.draft_id = ${draftId} and v.version = ${version}`
    })

    /**
     * The draft's next version. The caller holds the draft's lock (`lockForCase`, `lock`);
     * versions before it still waiting for a decision are superseded.
     */
    const addVersion = SqlSchema.single({
      Request: NewVersion,
      Result: DraftVersionRow,
      execute: (version) =>
        sql`
          with next as (
            update drafts set latest_version = latest_version + 1, updated_at = now()
            where id = ${version.draftId}
            returning id, case_id, latest_version
          ),
          superseded as (
            update draft_versions set status = 'superseded'
            where draft_id = ${version.draftId} and status = 'pending'
          ),
          inserted as (
            insert into draft_versions (
              draft_id, version, status, body, citations, author, reasoning, job_id, answers_message_id,
              decision, decided_by, decided_at
            )
            select next.id, next.latest_version, ${version.status}, ${version.body},
                   ${JSON.stringify(version.citations)}::jsonb, ${JSON.stringify(version.author)}::jsonb,
                   ${JSON.stringify(version.reasoning)}::jsonb, ${version.jobId}, ${version.answersMessageId},
                   ${version.decision}, ${version.decidedBy},
                   case when ${version.status} in ('approved', 'rejected') then clock_timestamp() end
            from next
            returning *
          )
          select i.*, next.case_id, ${sql.literal(keyOf("i.created_at"))} as created_at_key
          from inserted i join next on next.id = i.draft_id`
    })

    /** A person's (or the delivery's) decision on one version. */
    const decide = SqlSchema.single({
      Request: Schema.Struct({
        draftId: DraftId,
        version: Schema.Number,
        status: DraftStatus,
        decision: Schema.NullOr(Schema.String),
        decidedBy: Schema.NullOr(UserId)
      }),
      Result: DraftVersionRow,
      execute: ({ decidedBy, decision, draftId, status, version }) =>
        sql`
          with updated as (
            update draft_versions
            set status = ${status}, decision = ${decision}, decided_by = ${decidedBy}, decided_at = clock_timestamp()
            where draft_id = ${draftId} and version = ${version}
            returning *
          )
          select u.*, d.case_id, ${sql.literal(keyOf("u.created_at"))} as created_at_key
          from updated u join drafts d on d.id = u.draft_id`
    })

    /** An approved version was delivered. */
    const markSent = (draftId: DraftId, version: number) =>
      sql`update draft_versions set status = 'sent' where draft_id = ${draftId} and version = ${version} and status = 'approved'`

    /** Every version of the case's draft, newest first. */
    const versionsOfCase = SqlSchema.findAll({
      Request: CaseId,
      Result: DraftVersionRow,
      execute: (caseId) =>
        sql`
          select ${versionColumns} from draft_versions v join drafts d on d.id = v.draft_id
          where d.case_id = ${caseId}
          order by v.version desc`
    })

    /** Newest versions waiting for approval, oldest first, after the cursor's. */
    const pendingApprovals = (filter: {
      readonly productId?: ProductId | undefined
      readonly type?: CaseType | undefined
      readonly assigneeId?: UserId | undefined
      readonly after?: { readonly createdAtKey: string; readonly draftId: string } | undefined
      readonly limit: number
    }) => {
      const clauses = [
        sql`v.status = 'pending'`,
        sql`v.version = d.latest_version`,
        filter.productId === undefined ? undefined : sql`c.product_id = ${filter.productId}`,
        filter.type === undefined ? undefined : sql`c.type = ${filter.type}`,
        filter.assigneeId === undefined ? undefined : sql`c.assignee_id = ${filter.assigneeId}`,
        filter.after === undefined
          ? undefined
          : sql`(v.created_at, v.draft_id) > (${filter.after.createdAtKey}::timestamptz, ${filter.after.draftId}::uuid)`
      ].filter((clause) => clause !== undefined)
      return SqlSchema.findAll({
        Request: Schema.Void,
        Result: PendingApprovalRow,
        execute: () =>
          sql`
            select v.draft_id, v.version, v.body, v.created_at, ${sql.literal(keyOf("v.created_at"))} as created_at_key,
                   c.id as case_id, c.number::text as case_number, c.subject, c.product_id, c.type, c.assignee_id
            from draft_versions v
            join drafts d on d.id = v.draft_id
            join cases c on c.id = d.case_id
            where ${sql.and(clauses)}
            order by v.created_at, v.draft_id
            limit ${filter.limit}`
      })(undefined)
    }

    return {
      lockForCase,
      lock,
      findById,
      findByCase,
      versionByJob,
      findVersion,
      addVersion,
      decide,
      markSent,
      versionsOfCase,
      pendingApprovals
    } as const
  })
}) {}
