/** The delivery step: one job per approved draft version, run by core's ReplyDelivery with the attempt it is. */
import { ReplyDelivery } from "@nestfleet/core/ReplyDelivery"
import { CurrentJob } from "@nestfleet/jobs/CurrentJob"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { DeliverReplyJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect } from "effect"

export const DeliverReplyStepLive = JobWorker.layer(DeliverReplyJob, ({ draftId, version }) =>
  Effect.flatMap(ReplyDelivery, (delivery) =>
    Effect.flatMap(CurrentJob, (job) => delivery.deliver(draftId, version, job))))
