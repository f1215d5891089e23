/** The change-prep step: one job per case routed to `change_prep` (or a person's request), run by core's ChangePreps with the job as its idempotency key. */
import { ChangePreps } from "@nestfleet/core/ChangePreps"
import { CurrentJob } from "@nestfleet/jobs/CurrentJob"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { ChangePrepJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect } from "effect"

export const ChangePrepStepLive = JobWorker.layer(ChangePrepJob, ({ caseId, reason }) =>
  Effect.flatMap(ChangePreps, (preps) => Effect.flatMap(CurrentJob, (job) => preps.run(caseId, job.id, reason))))
