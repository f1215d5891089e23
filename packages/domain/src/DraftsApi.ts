/**
 * Reply drafts and the approval queue: everyone reads them; agents ask for a draft, edit,
 * approve and reject. An approval names the version the agent saw.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { RequireAgent, RequireViewer } from "./Access.js"
import { CaseId, CaseType } from "./Cases.js"
import { CaseNotFound, InvalidCursor } from "./CasesApi.js"
import { DraftId, DraftVersion } from "./Drafts.js"
import { ProductId } from "./Products.js"
import { noNul } from "./Text.js"
import { UserId } from "./Users.js"

const maxPageSize = 100

export const ApprovalQuery = Schema.Struct({
  productId: Schema.optional(ProductId),
  type: Schema.optional(CaseType),
  assigneeId: Schema.optional(UserId),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
  limit: Schema.optional(
    Schema.NumberFromString.pipe(
      Schema.int({ message: () => "limit must be a whole number" }),
      Schema.between(1, maxPageSize, { message: () => `limit must be from 1 to ${maxPageSize}` })
    )
  )
})
export type ApprovalQuery = typeof ApprovalQuery.Type

/** A draft version waiting for an agent, with what the queue shows of its case. */
export class PendingApproval extends Schema.Class<PendingApproval>("PendingApproval")({
  draftId: DraftId,
  version: Schema.Int,
  body: Schema.String,
  createdAt: Schema.Date,
  caseId: CaseId,
  caseNumber: Schema.Number,
  subject: Schema.String,
  productId: ProductId,
  type: Schema.NullOr(CaseType),
  assigneeId: Schema.NullOr(UserId)
}) {}

export class ApprovalPage extends Schema.Class<ApprovalPage>("ApprovalPage")({
  items: Schema.Array(PendingApproval),
  nextCursor: Schema.NullOr(Schema.String)
}) {}

const VersionNumber = Schema.Int.pipe(Schema.positive({ message: () => "A version is a whole number from 1" }))

export class Approval extends Schema.Class<Approval>("Approval")({
  /** The version the agent read: approving anything else is a conflict. */
  version: VersionNumber
}) {}

export class Rejection extends Schema.Class<Rejection>("Rejection")({
  reason: Schema.Trim.pipe(
    noNul,
    Schema.minLength(1, { message: () => "Say why the draft is rejected" }),
    Schema.maxLength(2000, { message: () => "A reason is at most 2000 characters" })
  ),
  /** The version the agent read, when the client knows it: rejecting another is a conflict. */
  version: Schema.optional(VersionNumber)
}) {}

export class DraftEdit extends Schema.Class<DraftEdit>("DraftEdit")({
  body: Schema.String.pipe(
    noNul,
    Schema.filter((body) => body.trim().length > 0 || "A reply cannot be empty"),
    Schema.maxLength(20_000, { message: () => "A reply is at most 20000 characters" })
  ),
  /** The version the edit starts from, when the client knows it: editing over a newer one is a conflict. */
  version: Schema.optional(VersionNumber)
}) {}

/** A draft was asked for: the auto_reply job queued for it. */
export class DraftRequested extends Schema.Class<DraftRequested>("DraftRequested")({
  caseId: CaseId,
  jobId: Schema.NullOr(Schema.String)
}) {}

export class DraftNotFound extends Schema.TaggedError<DraftNotFound>()(
  "DraftNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404, description: "No draft has this id." })
) {}

/**
 * What the agent decided on is no longer what would be sent: a newer version, a newer message
 * from the customer, or a version already decided. Nothing was changed or sent.
 */
export class DraftConflict extends Schema.TaggedError<DraftConflict>()(
  "DraftConflict",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409, description: "The draft changed, or the customer wrote again, since that version." })
) {}

const DraftPath = Schema.Struct({ id: DraftId })

export class DraftsApi extends HttpApiGroup.make("drafts")
  .add(
    HttpApiEndpoint.get("approvals", "/approvals")
      .setUrlParams(ApprovalQuery)
      .addSuccess(ApprovalPage)
      .addError(InvalidCursor)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "Drafts waiting for approval, oldest first; pages through nextCursor")
  )
  .add(
    HttpApiEndpoint.post("approve", "/drafts/:id/approve")
      .setPath(DraftPath)
      .setPayload(Approval)
      .addSuccess(DraftVersion)
      .addError(DraftNotFound)
      .addError(DraftConflict)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Approve exactly the version named; 409 if it is not the newest or the customer wrote since")
  )
  .add(
    HttpApiEndpoint.post("reject", "/drafts/:id/reject")
      .setPath(DraftPath)
      .setPayload(Rejection)
      .addSuccess(DraftVersion)
      .addError(DraftNotFound)
      .addError(DraftConflict)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Reject the waiting version, saying why; the case goes to a person")
  )
  .add(
    HttpApiEndpoint.patch("edit", "/drafts/:id")
      .setPath(DraftPath)
      .setPayload(DraftEdit)
      .addSuccess(DraftVersion)
      .addError(DraftNotFound)
      .addError(DraftConflict)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "A new version written by the agent; it waits for approval like any other")
  )
  .add(
    HttpApiEndpoint.post("request", "/cases/:id/draft")
      .setPath(Schema.Struct({ id: CaseId }))
      .addSuccess(DraftRequested, { status: 202 })
      .addError(CaseNotFound)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Write a new draft from the case's matched articles (queued); a new version if it has one")
  )
  .annotate(OpenApi.Title, "Drafts")
{}
