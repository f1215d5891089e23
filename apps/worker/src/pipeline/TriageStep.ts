/** The triage step: one job per case to classify, run by core's Triage with the job as its idempotency key. */
import { Triage } from "@nestfleet/core/Triage"
import { CurrentJob } from "@nestfleet/jobs/CurrentJob"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { TriageJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect } from "effect"

export const TriageStepLive = JobWorker.layer(TriageJob, ({ caseId, reason }) =>
  Effect.flatMap(Triage, (triage) => Effect.flatMap(CurrentJob, (job) => triage.run(caseId, job.id, reason))))
