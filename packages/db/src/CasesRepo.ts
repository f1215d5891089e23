/** Cases, their messages, timelines and triage results, and the deliveries that made them. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { CaseId, CaseStatus, CaseType, MessageId, Severity } from "@nestfleet/domain/Cases"
import { ChannelId } from "@nestfleet/domain/Channels"
import { ProductId } from "@nestfleet/domain/Products"
import { UserId } from "@nestfleet/domain/Users"
import { Effect, Schema } from "effect"
import { textArray } from "./PgArrays.js"
import * as PreparingClient from "./PreparingClient.js"

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export class CaseRow extends Schema.Class<CaseRow>("CaseRow")({
  id: CaseId,
  number: Schema.NumberFromString,
  productId: ProductId,
  channelId: ChannelId,
  threadKey: Schema.String,
  subject: Schema.String,
  status: CaseStatus,
  type: Schema.NullOr(CaseType),
  severity: Schema.NullOr(Severity),
  assigneeId: Schema.NullOr(UserId),
  customer: Json,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  /** `created_at` at full precision, for the keyset cursor. */
  createdAtKey: Schema.String
}) {}

export const MessageKind = Schema.Literal("inbound", "outbound", "note")

export class MessageRow extends Schema.Class<MessageRow>("MessageRow")({
  id: MessageId,
  caseId: CaseId,
  kind: MessageKind,
  externalId: Schema.NullOr(Schema.String),
  author: Json,
  authorUserId: Schema.NullOr(UserId),
  body: Schema.String,
  html: Schema.NullOr(Schema.String),
  metadata: Json,
  createdAt: Schema.DateFromSelf
}) {}

export class CaseEventRow extends Schema.Class<CaseEventRow>("CaseEventRow")({
  id: Schema.String,
  caseId: CaseId,
  kind: Schema.String,
  actorUserId: Schema.NullOr(UserId),
  data: Schema.Unknown,
  createdAt: Schema.DateFromSelf
}) {}

export class TriageRow extends Schema.Class<TriageRow>("TriageRow")({
  id: Schema.String,
  caseId: CaseId,
  jobId: Schema.String,
  type: CaseType,
  severity: Severity,
  confidence: Schema.Number,
  summary: Schema.String,
  reasoning: Schema.Array(Schema.Struct({ step: Schema.String, detail: Schema.String, evidence: Schema.Array(Schema.String) })),
  provider: Schema.String,
  model: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}

export interface CaseFilter {
  readonly status?: CaseStatus | undefined
  readonly type?: CaseType | undefined
  readonly severity?: Severity | undefined
  readonly productId?: ProductId | undefined
  readonly assigneeId?: UserId | undefined
  readonly q?: string | undefined
  /** Only cases before this one, newest first. */
  readonly after?: { readonly createdAtKey: string; readonly id: string } | undefined
  readonly limit: number
}

// The keyset's time in one fixed format (UTC, microseconds), whatever the session's DateStyle.
const caseColumns = "cases.*, cases.number::text as number, " +
  `to_char(cases.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at_key`

export class CasesRepo extends Effect.Service<CasesRepo>()("@nestfleet/db/CasesRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const columns = sql.literal(caseColumns)
    const prepared = sql.literal(PreparingClient.marker)

    // ---- deliveries ----

    /** Claims every key of a delivery; answers how many were new. Waits on a concurrent claim of the same key. */
    const claimDelivery = (channelId: ChannelId, keys: ReadonlyArray<string>) =>
      Effect.map(
        sql<{ deliveryKey: string }>`
          insert into deliveries (channel_id, delivery_key)
          select ${channelId}, key from unnest(${textArray(keys)}::text[]) as key order by key
          on conflict do nothing
          returning delivery_key`,
        (rows) => rows.length
      )

    const findDelivery = SqlSchema.findOne({
      Request: Schema.Struct({ channelId: ChannelId, keys: Schema.Array(Schema.String) }),
      Result: Schema.Struct({ caseId: CaseId, messageId: MessageId }),
      execute: ({ channelId, keys }) =>
        sql`
          select case_id, message_id from deliveries
          where channel_id = ${channelId} and delivery_key = any(${textArray(keys)}::text[])
            and message_id is not null
          limit 1`
    })

    const completeDelivery = SqlSchema.void({
      Request: Schema.Struct({
        channelId: ChannelId,
        keys: Schema.Array(Schema.String),
        caseId: CaseId,
        messageId: MessageId
      }),
      execute: ({ caseId, channelId, keys, messageId }) =>
        sql`
          update deliveries set case_id = ${caseId}, message_id = ${messageId}
          where channel_id = ${channelId} and delivery_key = any(${textArray(keys)}::text[])`
    })

    // ---- cases ----

    /** A new case for the thread; none when the thread already has one. */
    const insertCase = SqlSchema.findOne({
      Request: Schema.Struct({
        productId: ProductId,
        channelId: ChannelId,
        threadKey: Schema.String,
        subject: Schema.String,
        customer: Json
      }),
      Result: CaseRow,
      execute: ({ channelId, customer, productId, subject, threadKey }) =>
        sql`
          insert into cases (product_id, channel_id, thread_key, subject, customer)
          values (${productId}, ${channelId}, ${threadKey}, ${subject}, ${JSON.stringify(customer)}::jsonb)
          on conflict (channel_id, thread_key) do nothing
          returning ${columns}`
    })

    /**
     * The common case in one round trip: a new thread's case, its first message, the
     * `case_opened` event, and the delivery's keys claimed for them. None when a key was
     * claimed before or the thread already has a case; then nothing is written, and the
     * caller takes the longer path. `claimed` short of the keys means a concurrent delivery
     * took one of them meanwhile: the caller rolls the transaction back.
     */
    const openThread = SqlSchema.findOne({
      Request: Schema.Struct({
        productId: ProductId,
        channelId: ChannelId,
        channelType: Schema.String,
        threadKey: Schema.String,
        subject: Schema.String,
        customer: Json,
        deliveryKeys: Schema.Array(Schema.String),
        externalId: Schema.String,
        body: Schema.String,
        html: Schema.NullOr(Schema.String),
        metadata: Json
      }),
      Result: Schema.Struct({ caseId: CaseId, messageId: MessageId, claimed: Schema.Number }),
      execute: (input) => {
        const keys = textArray(input.deliveryKeys)
        return sql`${prepared}
          with opened as (
            insert into cases (product_id, channel_id, thread_key, subject, customer)
            values (
              ${input.productId}, ${input.channelId}, ${input.threadKey}, ${input.subject},
              ${JSON.stringify(input.customer)}::jsonb
            )
            on conflict (channel_id, thread_key) do nothing
            returning id
          ), message as (
            insert into messages (case_id, kind, external_id, author, body, html, metadata)
            select id, 'inbound', ${input.externalId}, ${JSON.stringify(input.customer)}::jsonb,
              ${input.body}, ${input.html}, ${JSON.stringify(input.metadata)}::jsonb
            from opened
            returning id, case_id
          ), event as (
            insert into case_events (case_id, kind, data)
            select case_id, 'case_opened',
              jsonb_build_object('messageId', id, 'channelId', ${input.channelId}::text, 'channelType', ${input.channelType}::text)
            from message
          ), claimed as (
            insert into deliveries (channel_id, delivery_key, case_id, message_id)
            select ${input.channelId}, key, message.case_id, message.id
            from message, unnest(${keys}::text[]) as key
            order by key
            on conflict do nothing
            returning delivery_key
          )
          select case_id, id as message_id, (select count(*)::int from claimed) as claimed from message`
      }
    })

    const findByThread = SqlSchema.findOne({
      Request: Schema.Struct({ channelId: ChannelId, threadKey: Schema.String }),
      Result: CaseRow,
      execute: ({ channelId, threadKey }) =>
        sql`select ${columns} from cases where channel_id = ${channelId} and thread_key = ${threadKey} for update`
    })

    /** The case on the channel holding one of the messages `externalIds` names (an email thread). */
    const findByMessages = SqlSchema.findOne({
      Request: Schema.Struct({ channelId: ChannelId, externalIds: Schema.Array(Schema.String) }),
      Result: CaseRow,
      execute: ({ channelId, externalIds }) =>
        sql`
          select ${columns} from cases
          where cases.channel_id = ${channelId} and cases.id in (
            select m.case_id from messages m where m.external_id = any(${textArray(externalIds)}::text[])
          )
          order by cases.created_at
          limit 1
          for update`
    })

    const findById = SqlSchema.findOne({
      Request: CaseId,
      Result: CaseRow,
      execute: (id) => sql`select ${columns} from cases where id = ${id}`
    })

    const list = (filter: CaseFilter) => {
      const query = filter.q?.trim()
      const clauses = [
        filter.status === undefined ? undefined : sql`cases.status = ${filter.status}`,
        filter.type === undefined ? undefined : sql`cases.type = ${filter.type}`,
        filter.severity === undefined ? undefined : sql`cases.severity = ${filter.severity}`,
        filter.productId === undefined ? undefined : sql`cases.product_id = ${filter.productId}`,
        filter.assigneeId === undefined ? undefined : sql`cases.assignee_id = ${filter.assigneeId}`,
        query === undefined || query === "" ? undefined : sql`(
          to_tsvector('english', cases.subject) @@ websearch_to_tsquery('english', ${query})
          or exists (
            select 1 from messages m
            where m.case_id = cases.id
              and to_tsvector('english', left(m.body, 100000)) @@ websearch_to_tsquery('english', ${query})
          ))`,
        filter.after === undefined
          ? undefined
          : sql`(cases.created_at, cases.id) < (${filter.after.createdAtKey}::timestamptz, ${filter.after.id}::uuid)`
      ].filter((clause) => clause !== undefined)
      return SqlSchema.findAll({
        Request: Schema.Void,
        Result: CaseRow,
        execute: () =>
          sql`
            select ${columns} from cases
            ${clauses.length === 0 ? sql`` : sql`where ${sql.and(clauses)}`}
            order by cases.created_at desc, cases.id desc
            limit ${filter.limit}`
      })(undefined)
    }

    const update = SqlSchema.findOne({
      Request: Schema.Struct({
        id: CaseId,
        status: Schema.optional(CaseStatus),
        type: Schema.optional(CaseType),
        severity: Schema.optional(Severity),
        assigneeId: Schema.optional(Schema.NullOr(UserId))
      }),
      Result: CaseRow,
      execute: ({ assigneeId, id, severity, status, type }) =>
        sql`
          update cases set
            status = coalesce(${status ?? null}::text, status),
            type = coalesce(${type ?? null}::text, type),
            severity = coalesce(${severity ?? null}::text, severity),
            assignee_id = case when ${assigneeId !== undefined} then ${assigneeId ?? null}::uuid else assignee_id end,
            updated_at = now()
          where id = ${id}
          returning ${columns}`
    })

    /** The case, locked for the rest of the transaction. */
    const lock = SqlSchema.findOne({
      Request: CaseId,
      Result: CaseRow,
      execute: (id) => sql`select ${columns} from cases where id = ${id} for update`
    })

    // ---- messages and timeline ----

    const insertMessage = SqlSchema.single({
      Request: Schema.Struct({
        caseId: CaseId,
        kind: MessageKind,
        externalId: Schema.NullOr(Schema.String),
        author: Json,
        authorUserId: Schema.NullOr(UserId),
        body: Schema.String,
        html: Schema.NullOr(Schema.String),
        metadata: Json
      }),
      Result: MessageRow,
      execute: (message) =>
        sql`
          insert into messages (case_id, kind, external_id, author, author_user_id, body, html, metadata)
          values (
            ${message.caseId}, ${message.kind}, ${message.externalId}, ${JSON.stringify(message.author)}::jsonb,
            ${message.authorUserId}, ${message.body}, ${message.html}, ${JSON.stringify(message.metadata)}::jsonb
          )
          returning *`
    })

    const messagesOf = SqlSchema.findAll({
      Request: CaseId,
      Result: MessageRow,
      execute: (caseId) => sql`select * from messages where case_id = ${caseId} order by created_at, id`
    })

    const insertEvent = SqlSchema.void({
      Request: Schema.Struct({
        caseId: CaseId,
        kind: Schema.String,
        actorUserId: Schema.NullOr(UserId),
        data: Schema.Unknown
      }),
      execute: ({ actorUserId, caseId, data, kind }) =>
        sql`
          insert into case_events (case_id, kind, actor_user_id, data)
          values (${caseId}, ${kind}, ${actorUserId}, ${JSON.stringify(data)}::jsonb)`
    })

    const eventsOf = SqlSchema.findAll({
      Request: CaseId,
      Result: CaseEventRow,
      execute: (caseId) => sql`select * from case_events where case_id = ${caseId} order by created_at, id`
    })

    // ---- triage ----

    /** Stores a job's triage; none when that job already stored one (a retry). */
    const insertTriage = SqlSchema.findOne({
      Request: Schema.Struct({
        caseId: CaseId,
        jobId: Schema.String,
        type: CaseType,
        severity: Severity,
        confidence: Schema.Number,
        summary: Schema.String,
        reasoning: Schema.Array(Schema.Unknown),
        provider: Schema.String,
        model: Schema.String
      }),
      Result: TriageRow,
      execute: (triage) =>
        sql`
          insert into triage_results (case_id, job_id, type, severity, confidence, summary, reasoning, provider, model)
          values (
            ${triage.caseId}, ${triage.jobId}, ${triage.type}, ${triage.severity}, ${triage.confidence},
            ${triage.summary}, ${JSON.stringify(triage.reasoning)}::jsonb, ${triage.provider}, ${triage.model}
          )
          on conflict (job_id) do nothing
          returning *`
    })

    const latestTriage = SqlSchema.findOne({
      Request: CaseId,
      Result: TriageRow,
      execute: (caseId) =>
        sql`select * from triage_results where case_id = ${caseId} order by created_at desc, id desc limit 1`
    })

    return {
      claimDelivery,
      findDelivery,
      completeDelivery,
      insertCase,
      openThread,
      findByThread,
      findByMessages,
      findById,
      list,
      update,
      lock,
      insertMessage,
      messagesOf,
      insertEvent,
      eventsOf,
      insertTriage,
      latestTriage
    } as const
  })
}) {}
