/** Fills an embedding space a round at a time; a building space is switched to once complete. */
import { Embeddings } from "@nestfleet/core/Embeddings"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { EmbedSpaceJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect } from "effect"

export const EmbedSpaceStepLive = JobWorker.layer(EmbedSpaceJob, ({ spaceId }) =>
  Effect.flatMap(Embeddings, (embeddings) => embeddings.fillSpace(spaceId)))
