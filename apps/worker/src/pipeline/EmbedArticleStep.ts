/** Embeds one version of an article: core's Knowledge stores it only if the article is still at that version. */
import { Knowledge } from "@nestfleet/core/Knowledge"
import * as JobWorker from "@nestfleet/jobs/JobWorker"
import { EmbedArticleJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect } from "effect"

export const EmbedArticleStepLive = JobWorker.layer(EmbedArticleJob, ({ articleId, version }) =>
  Effect.flatMap(Knowledge, (knowledge) => knowledge.embedArticle(articleId, version)))
