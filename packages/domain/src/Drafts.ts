/**
 * Reply drafts: what the pipeline (or an agent) proposes to send a customer. A case has at
 * most one draft; every regeneration or edit is a new version of it, and every version is
 * kept, with its status, author and sources.
 */
import { Schema } from "effect"
import { CaseId, ReasoningStep } from "./Cases.js"
import { ArticleId } from "./Knowledge.js"
import { UserId } from "./Users.js"

export const DraftId = Schema.UUID.pipe(Schema.brand("DraftId"))
export type DraftId = typeof DraftId.Type

/**
 * `pending`: waiting for an agent's approval. `approved`: to be sent (by an agent, or by the
 * product's policy). `rejected`: not to be sent (by an agent, or refused by the guard).
 * `superseded`: a newer version replaced it before a decision. `sent`: delivered.
 */
export const DraftStatus = Schema.Literal("pending", "approved", "rejected", "superseded", "sent")
export type DraftStatus = typeof DraftStatus.Type

/** A source a draft cites as `[n]`: one passage of a knowledge-base article. */
export class Citation extends Schema.Class<Citation>("Citation")({
  n: Schema.Int,
  articleId: ArticleId,
  /** The passage quoted or paraphrased. */
  chunkId: Schema.String,
  title: Schema.String,
  url: Schema.NullOr(Schema.String)
}) {}

/** Who wrote a version: the model (which provider and model) or a person. */
export class DraftAuthor extends Schema.Class<DraftAuthor>("DraftAuthor")({
  kind: Schema.Literal("model", "user"),
  /** The provider and model, for `model`; the user's name, for `user`. */
  name: Schema.String,
  userId: Schema.NullOr(UserId)
}) {}

export class DraftVersion extends Schema.Class<DraftVersion>("DraftVersion")({
  id: DraftId,
  caseId: CaseId,
  version: Schema.Int,
  status: DraftStatus,
  body: Schema.String,
  citations: Schema.Array(Citation),
  author: DraftAuthor,
  /** Which articles were used and why (model versions), or what the person changed. */
  reasoning: Schema.Array(ReasoningStep),
  /** Why it was rejected or refused, or who or what approved it. */
  decision: Schema.NullOr(Schema.String),
  decidedBy: Schema.NullOr(UserId),
  decidedAt: Schema.NullOr(Schema.Date),
  createdAt: Schema.Date
}) {}
