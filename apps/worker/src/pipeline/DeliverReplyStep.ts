/**
 * The delivery steps: one job per approved draft version, run by core's ReplyDelivery with the
 * attempt it is; and the job that winds up a delivery that failed for good, however it ended.
 */
import { ReplyDelivery } from "@nestfleet/core/ReplyDelivery"
import { CurrentJob } from "@nestfleet/jobs/CurrentJob"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { DeliverReplyJob, ReplyUndeliveredJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect } from "effect"

export const DeliverReplyStepLive = JobWorker.layer(DeliverReplyJob, ({ draftId, version }) =>
  Effect.flatMap(ReplyDelivery, (delivery) =>
    Effect.flatMap(CurrentJob, (job) => delivery.deliver(draftId, version, job))))

export const ReplyUndeliveredStepLive = JobWorker.layer(ReplyUndeliveredJob, ({ draftId, version }) =>
  Effect.flatMap(ReplyDelivery, (delivery) => delivery.undelivered(draftId, version)))
