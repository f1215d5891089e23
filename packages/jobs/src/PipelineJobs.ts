/** The AI pipeline's jobs: each step is a job of its own, retried on its own. */
import { CaseId } from "@nestfleet/domain/Cases"
import { DraftId } from "@nestfleet/domain/Drafts"
import { ArticleId } from "@nestfleet/domain/Knowledge"
import { Schema } from "effect"
import * as JobDefinition from "./JobDefinition.js"

/** Classify a case: type, severity, confidence, with the reasoning. */
export const TriageJob = JobDefinition.make("triage", {
  payload: Schema.Struct({
    caseId: CaseId,
    /** Why: a case that just arrived, a customer writing again, or a person asking for another look. */
    reason: Schema.Literal("new_case", "follow_up", "retriage")
  }),
  retry: { retryLimit: 5, retryDelaySeconds: 2, backoff: true, retryDelayMaxSeconds: 300, expireInSeconds: 300 },
  worker: { concurrency: 2, batchSize: 4 }
})

/** Match a triaged case against its product's articles and other cases, and route it. */
export const KnownIssueMatchJob = JobDefinition.make("known_issue_match", {
  payload: Schema.Struct({ caseId: CaseId }),
  retry: { retryLimit: 5, retryDelaySeconds: 2, backoff: true, retryDelayMaxSeconds: 300, expireInSeconds: 300 },
  worker: { concurrency: 2, batchSize: 4 }
})

/** Draft a reply to a case from its matched articles: routed to `reply` by matching, or asked for by a person. */
export const AutoReplyJob = JobDefinition.make("auto_reply", {
  payload: Schema.Struct({ caseId: CaseId, reason: Schema.Literal("matched", "requested") }),
  retry: { retryLimit: 5, retryDelaySeconds: 2, backoff: true, retryDelayMaxSeconds: 300, expireInSeconds: 300 },
  worker: { concurrency: 2, batchSize: 4 }
})

/** Prepare a pull-request draft for a case: routed to `change_prep` by matching, or asked for by a person. */
export const ChangePrepJob = JobDefinition.make("change_prep", {
  payload: Schema.Struct({ caseId: CaseId, reason: Schema.Literal("routed", "requested") }),
  retry: { retryLimit: 5, retryDelaySeconds: 2, backoff: true, retryDelayMaxSeconds: 300, expireInSeconds: 300 },
  worker: { concurrency: 1, batchSize: 2 }
})

const DraftVersion = Schema.Struct({ draftId: DraftId, version: Schema.Int })

/**
 * A deliver_reply job that failed for good, however its last attempt ended (failed, crashed,
 * expired, its worker killed): its reply, when still `sending`, is failed and the case goes to
 * a person.
 */
export const ReplyUndeliveredJob = JobDefinition.make("reply_undelivered", {
  payload: DraftVersion,
  retry: { retryLimit: 20, retryDelaySeconds: 30, backoff: false, expireInSeconds: 120 },
  worker: { concurrency: 1, batchSize: 4 }
})

/**
 * Deliver one approved draft version through the case's channel. Retried on failures that may
 * heal (timeouts, 5xx, rate limits); the version's key makes a retry after a crash one reply
 * where the target takes an idempotency key. A worker that dies mid-delivery stops its
 * heartbeat, so the retry comes within seconds, not at the expiry.
 */
export const DeliverReplyJob = JobDefinition.make("deliver_reply", {
  payload: DraftVersion,
  retry: {
    retryLimit: 8,
    retryDelaySeconds: 5,
    backoff: true,
    retryDelayMaxSeconds: 600,
    expireInSeconds: 120,
    heartbeatSeconds: 20
  },
  worker: { concurrency: 2, batchSize: 4 },
  deadLetter: ReplyUndeliveredJob
})

/** Cut one version of an article into passages and embed them; an older version never overwrites a newer one. */
export const EmbedArticleJob = JobDefinition.make("embed_article", {
  payload: Schema.Struct({ articleId: ArticleId, version: Schema.Int }),
  retry: { retryLimit: 8, retryDelaySeconds: 5, backoff: true, retryDelayMaxSeconds: 600, expireInSeconds: 600 },
  worker: { concurrency: 1, batchSize: 2 }
})

/** Fill an embedding space with every passage and case it lacks; a building space is switched to once complete. */
export const EmbedSpaceJob = JobDefinition.make("embed_space", {
  payload: Schema.Struct({ spaceId: Schema.Int }),
  retry: { retryLimit: 10, retryDelaySeconds: 10, backoff: true, retryDelayMaxSeconds: 600, expireInSeconds: 1800 },
  worker: { concurrency: 1, batchSize: 1 }
})
