/** The auto-reply step: one job per case routed to `reply` (or a person's request), run by core's AutoReply with the job as its idempotency key. */
import { AutoReply } from "@nestfleet/core/AutoReply"
import { CurrentJob } from "@nestfleet/jobs/CurrentJob"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { AutoReplyJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect } from "effect"

export const AutoReplyStepLive = JobWorker.layer(AutoReplyJob, ({ caseId, reason }) =>
  Effect.flatMap(AutoReply, (reply) => Effect.flatMap(CurrentJob, (job) => reply.run(caseId, job.id, reason))))
