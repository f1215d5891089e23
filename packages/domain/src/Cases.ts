/** Cases: one customer conversation each, with its messages, triage and timeline. */
import { Schema } from "effect"
import { CaseType } from "./CaseType.js"
import { ChannelId } from "./Channels.js"
import { ArticleId } from "./Knowledge.js"
import { ProductId } from "./Products.js"
import { UserId } from "./Users.js"

export const CaseId = Schema.UUID.pipe(Schema.brand("CaseId"))
export type CaseId = typeof CaseId.Type

export const MessageId = Schema.UUID.pipe(Schema.brand("MessageId"))
export type MessageId = typeof MessageId.Type

export const CaseStatus = Schema.Literal(
  "new",
  "triaged",
  "needs_attention",
  "awaiting_approval",
  "replied",
  "resolved",
  "closed"
)
export type CaseStatus = typeof CaseStatus.Type

export { CaseType } from "./CaseType.js"

export const Severity = Schema.Literal("critical", "high", "medium", "low")
export type Severity = typeof Severity.Type

/** Who wrote in, as far as the channel says. */
export class Customer extends Schema.Class<Customer>("Customer")({
  email: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  handle: Schema.optional(Schema.String)
}) {}

export class CaseSummary extends Schema.Class<CaseSummary>("CaseSummary")({
  id: CaseId,
  number: Schema.Number,
  productId: ProductId,
  channelId: ChannelId,
  subject: Schema.String,
  status: CaseStatus,
  type: Schema.NullOr(CaseType),
  severity: Schema.NullOr(Severity),
  assigneeId: Schema.NullOr(UserId),
  customer: Customer,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}

export const MessageKind = Schema.Literal("inbound", "outbound", "note")

export class MessageAuthor extends Schema.Class<MessageAuthor>("MessageAuthor")({
  email: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  handle: Schema.optional(Schema.String),
  userId: Schema.optional(UserId)
}) {}

export const DeliveryState = Schema.Literal("sending", "sent", "failed")
export type DeliveryState = typeof DeliveryState.Type

/** How a reply is getting to the customer: `sending` (retried until it is `sent`), or `failed` for good, with why. */
export class MessageDelivery extends Schema.Class<MessageDelivery>("MessageDelivery")({
  state: DeliveryState,
  /** The draft and version it sends. */
  draftId: Schema.UUID,
  version: Schema.Int,
  /** The last attempt's failure while `sending`; the reason it stopped when `failed`. */
  error: Schema.NullOr(Schema.String),
  deliveredAt: Schema.NullOr(Schema.Date)
}) {}

export class Message extends Schema.Class<Message>("Message")({
  id: MessageId,
  kind: MessageKind,
  author: MessageAuthor,
  body: Schema.String,
  html: Schema.NullOr(Schema.String),
  /** For a reply sent through the channel; null for the customer's messages and notes. */
  delivery: Schema.NullOr(MessageDelivery),
  createdAt: Schema.Date
}) {}

/** One step of a decision, with the words of the message that drove it. */
export class ReasoningStep extends Schema.Class<ReasoningStep>("ReasoningStep")({
  step: Schema.String,
  detail: Schema.String,
  evidence: Schema.Array(Schema.String)
}) {}

export class Triage extends Schema.Class<Triage>("Triage")({
  type: CaseType,
  severity: Severity,
  confidence: Schema.Number,
  summary: Schema.String,
  reasoning: Schema.Array(ReasoningStep),
  provider: Schema.String,
  model: Schema.String,
  createdAt: Schema.Date
}) {}

export class CaseEvent extends Schema.Class<CaseEvent>("CaseEvent")({
  kind: Schema.String,
  actorUserId: Schema.NullOr(UserId),
  data: Schema.Unknown,
  createdAt: Schema.Date
}) {}

/**
 * An article or another case that may answer or repeat this one. `score` is calibrated (see
 * the README's "What a score means"): about the probability the match is right.
 */
/**
 * What a match's score was made from: `meaning`, the cosine similarity of the case and the
 * article's best passage (or the other case) in the embedding model's space; `words`, how much
 * of the case's words that passage holds, from 0 to 1 (BM25 over the most the words could
 * score). Null where that search did not run (no model reachable; cases are not scored by words).
 */
export class MatchEvidence extends Schema.Class<MatchEvidence>("MatchEvidence")({
  meaning: Schema.NullOr(Schema.Number),
  words: Schema.NullOr(Schema.Number)
}) {}

export class CaseMatch extends Schema.Class<CaseMatch>("CaseMatch")({
  kind: Schema.Literal("article", "case"),
  articleId: Schema.optional(ArticleId),
  caseId: Schema.optional(CaseId),
  caseNumber: Schema.optional(Schema.Number),
  title: Schema.String,
  url: Schema.optional(Schema.NullOr(Schema.String)),
  score: Schema.Number,
  rank: Schema.Number,
  snippet: Schema.String,
  /** Absent on matches stored before evidence was kept. */
  evidence: Schema.optional(MatchEvidence)
}) {}

export const RoutingDecision = Schema.Literal("reply", "change_prep", "human")
export type RoutingDecision = typeof RoutingDecision.Type

/** Where the known-issue match sent the case, and why. */
export class Routing extends Schema.Class<Routing>("Routing")({
  decision: RoutingDecision,
  reason: Schema.String,
  at: Schema.Date
}) {}

/** Another case this one likely repeats: suggested by matching, confirmed or dismissed by an agent. Never merged. */
export class DuplicateMark extends Schema.Class<DuplicateMark>("DuplicateMark")({
  caseId: CaseId,
  caseNumber: Schema.Number,
  state: Schema.Literal("suggested", "confirmed", "dismissed"),
  score: Schema.NullOr(Schema.Number)
}) {}

/** One call to a model, with the pipeline step it served. */
export class AiCall extends Schema.Class<AiCall>("AiCall")({
  step: Schema.NullOr(Schema.String),
  task: Schema.String,
  kind: Schema.Literal("completion", "embedding"),
  provider: Schema.String,
  model: Schema.String,
  inputTokens: Schema.NullOr(Schema.Number),
  outputTokens: Schema.NullOr(Schema.Number),
  latencyMs: Schema.Number,
  outcome: Schema.String,
  createdAt: Schema.Date
}) {}

export class CasePage extends Schema.Class<CasePage>("CasePage")({
  items: Schema.Array(CaseSummary),
  nextCursor: Schema.NullOr(Schema.String)
}) {}
