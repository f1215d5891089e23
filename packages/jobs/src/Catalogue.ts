/**
 * Every job NestFleet runs. A queue is created for each at start, by producers and
 * workers alike, so a job can be sent before any worker has started. The AI pipeline's
 * steps join this list as they are built.
 */
import { Context } from "effect"
import type { JobDefinition } from "./JobDefinition.js"
import {
  AutoReplyJob,
  ChangePrepJob,
  DeliverReplyJob,
  EmbedArticleJob,
  EmbedSpaceJob,
  KnownIssueMatchJob,
  ReplyUndeliveredJob,
  TriageJob
} from "./PipelineJobs.js"

export const all: ReadonlyArray<JobDefinition.Any> = [
  TriageJob,
  KnownIssueMatchJob,
  AutoReplyJob,
  DeliverReplyJob,
  ReplyUndeliveredJob,
  ChangePrepJob,
  EmbedArticleJob,
  EmbedSpaceJob
]

/** The catalogue in use; tests provide their own jobs through it. */
export class JobCatalogue extends Context.Reference<JobCatalogue>()("@nestfleet/jobs/JobCatalogue", {
  defaultValue: (): ReadonlyArray<JobDefinition.Any> => all
}) {}
