/** Change-prep: agents ask for one; everyone reads the latest, as JSON or as Markdown for a pull request. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { RequireAgent, RequireViewer } from "./Access.js"
import { CaseId } from "./Cases.js"
import { CaseNotFound } from "./CasesApi.js"
import { ChangePrep } from "./ChangePreps.js"

export class ChangePrepRequested extends Schema.Class<ChangePrepRequested>("ChangePrepRequested")({
  caseId: CaseId,
  jobId: Schema.NullOr(Schema.String)
}) {}

export class ChangePrepNotFound extends Schema.TaggedError<ChangePrepNotFound>()(
  "ChangePrepNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404, description: "The case has no change-prep yet." })
) {}

const CasePath = Schema.Struct({ id: CaseId })

export class ChangePrepsApi extends HttpApiGroup.make("changePreps")
  .add(
    HttpApiEndpoint.post("request", "/cases/:id/change-prep")
      .setPath(CasePath)
      .addSuccess(ChangePrepRequested, { status: 202 })
      .addError(CaseNotFound)
      .middleware(RequireAgent)
      .annotate(OpenApi.Summary, "Prepare a pull-request draft for the case (queued), whatever its routing")
  )
  .add(
    HttpApiEndpoint.get("latest", "/cases/:id/change-prep")
      .setPath(CasePath)
      .addSuccess(ChangePrep)
      .addError(CaseNotFound)
      .addError(ChangePrepNotFound)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "The case's latest change-prep")
  )
  .add(
    HttpApiEndpoint.get("markdown", "/cases/:id/change-prep.md")
      .setPath(CasePath)
      .addSuccess(HttpApiSchema.Text({ contentType: "text/markdown; charset=utf-8" }))
      .addError(CaseNotFound)
      .addError(ChangePrepNotFound)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "The case's latest change-prep as Markdown, ready to paste into a pull request")
  )
  .annotate(OpenApi.Title, "Change-prep")
{}
