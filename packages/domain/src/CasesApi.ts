/** Working cases: everyone reads them; agents change them, add notes and ask for a new triage. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { noNul } from "./Text.js"
import { RequireAgent, RequireViewer } from "./Access.js"
import { CaseDetail } from "./CaseDetail.js"
import { CaseEvent, CaseId, CasePage, CaseStatus, CaseType, Severity } from "./Cases.js"
import { ProductId } from "./Products.js"
import { UserId } from "./Users.js"

const maxPageSize = 100

export const CaseQuery = Schema.Struct({
  status: Schema.optional(CaseStatus),
  type: Schema.optional(CaseType),
  severity: Schema.optional(Severity),
  productId: Schema.optional(ProductId),
  assigneeId: Schema.optional(UserId),
  q: Schema.optional(Schema.String.pipe(noNul, Schema.maxLength(500, { message: () => "A search is at most 500 characters" }))),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
  limit: Schema.optional(
    Schema.NumberFromString.pipe(
      Schema.int({ message: () => "limit must be a whole number" }),
      Schema.between(1, maxPageSize, { message: () => `limit must be from 1 to ${maxPageSize}` })
    )
  )
})
export type CaseQuery = typeof CaseQuery.Type

export class CaseChanges extends Schema.Class<CaseChanges>("CaseChanges")({
  status: Schema.optional(CaseStatus),
  assigneeId: Schema.optional(Schema.NullOr(UserId)),
  type: Schema.optional(CaseType),
  severity: Schema.optional(Severity)
}) {}

export class NewNote extends Schema.Class<NewNote>("NewNote")({
  body: Schema.Trim.pipe(
    noNul,
    Schema.minLength(1, { message: () => "A note cannot be empty" }),
    Schema.maxLength(20_000, { message: () => "A note is at most 20000 characters" })
  )
}) {}

export class CaseNotFound extends Schema.TaggedError<CaseNotFound>()(
  "CaseNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404, description: "No case has this id." })
) {}

export class AssigneeNotFound extends Schema.TaggedError<AssigneeNotFound>()(
  "AssigneeNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400, description: "The assignee is not an enabled user." })
) {}

export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()(
  "InvalidCursor",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400, description: "The cursor is not one this API gave out." })
) {}

/**
 * The answer to a retriage asked for while one is still waiting to start: nothing more is
 * queued, as the waiting one will read the case as it is when it starts.
 */
export class RetriageAlreadyQueued extends Schema.Class<RetriageAlreadyQueued>("RetriageAlreadyQueued")({
  alreadyQueued: Schema.Literal(true),
  /** The waiting job: the same one a retriage_requested event in the timeline names. */
  jobId: Schema.String,
  queuedAt: Schema.Date
}, {
  description:
    "A retriage of the case was asked for moments ago, or is queued and has not started; nothing more was queued."
}) {}

export class InvalidDuplicate extends Schema.TaggedError<InvalidDuplicate>()(
  "InvalidDuplicate",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400, description: "The case named cannot be the original of this one." })
) {}

export class DuplicateOf extends Schema.Class<DuplicateOf>("DuplicateOf")({
  /** The case this one repeats: the suggestion being confirmed, or another case of the same product. */
  caseId: CaseId
}) {}

const CasePath = Schema.Struct({ id: CaseId })

export class CasesApi extends HttpApiGroup.make("cases")
  .add(
    HttpApiEndpoint.get("list", "/cases")
      .setUrlParams(CaseQuery)
      .addSuccess(CasePage)
      .addError(InvalidCursor)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "Cases, newest first, filtered and searched; pages through nextCursor")
  )
  .add(
    HttpApiEndpoint.get("get", "/cases/:id")
      .setPath(CasePath)
      .addSuccess(CaseDetail)
      .addError(CaseNotFound)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "A case with its messages, latest triage and timeline")
  )
  .add(
    HttpApiEndpoint.patch("update", "/cases/:id")
      .setPath(CasePath)
      .setPayload(CaseChanges)
      .addSuccess(CaseDetail)
      .addError(CaseNotFound)
      .addError(AssigneeNotFound)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Change status, assignee, type or severity; recorded in the timeline")
  )
  .add(
    HttpApiEndpoint.post("addNote", "/cases/:id/notes")
      .setPath(CasePath)
      .setPayload(NewNote)
      .addSuccess(CaseDetail, { status: 201 })
      .addError(CaseNotFound)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "An internal note, never sent to the customer")
  )
  .add(
    HttpApiEndpoint.post("retriage", "/cases/:id/retriage")
      .setPath(CasePath)
      .addSuccess(CaseEvent, { status: 202 })
      .addSuccess(RetriageAlreadyQueued)
      .addError(CaseNotFound)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Triage the case again (queued)")
      .annotate(
        OpenApi.Description,
        "At most one retriage of a case waits at a time. 202 with the timeline's `retriage_requested` event " +
          "(its data names the job) when this request queued one; 200 with `alreadyQueued: true` and that " +
          "job's id when one was asked for in the last 10 seconds, or was queued before and has not started. " +
          "Otherwise, once a retriage has started, another may be queued."
      )
  )
  .add(
    HttpApiEndpoint.post("markDuplicate", "/cases/:id/duplicate-of")
      .setPath(CasePath)
      .setPayload(DuplicateOf)
      .addSuccess(CaseDetail)
      .addError(CaseNotFound)
      .addError(InvalidDuplicate)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Confirm that the case repeats another (never merged); recorded in the timeline")
  )
  .add(
    HttpApiEndpoint.del("dismissDuplicate", "/cases/:id/duplicate-of")
      .setPath(CasePath)
      .addSuccess(CaseDetail)
      .addError(CaseNotFound)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Dismiss a duplicate suggestion: matching will not suggest one again")
  )
  .annotate(OpenApi.Title, "Cases")
{}
