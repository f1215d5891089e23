/** The known-issue match step: one job per triaged case, run by core's KnownIssueMatch with the job as its idempotency key. */
import { KnownIssueMatch } from "@nestfleet/core/KnownIssueMatch"
import { CurrentJob } from "@nestfleet/jobs/CurrentJob"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { KnownIssueMatchJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect } from "effect"

export const KnownIssueMatchStepLive = JobWorker.layer(KnownIssueMatchJob, ({ caseId }) =>
  Effect.flatMap(KnownIssueMatch, (match) => Effect.flatMap(CurrentJob, (job) => match.run(caseId, job.id))))
