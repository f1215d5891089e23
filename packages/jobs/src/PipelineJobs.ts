/** The AI pipeline's jobs: each step is a job of its own, retried on its own. */
import { CaseId } from "@nestfleet/domain/Cases"
import { Schema } from "effect"
import * as JobDefinition from "./JobDefinition.js"

/** Classify a case: type, severity, confidence, with the reasoning. */
export const TriageJob = JobDefinition.make("triage", {
  payload: Schema.Struct({
    caseId: CaseId,
    /** Why: a case that just arrived, or a person asking for another look. */
    reason: Schema.Literal("new_case", "retriage")
  }),
  retry: { retryLimit: 5, retryDelaySeconds: 2, backoff: true, retryDelayMaxSeconds: 300, expireInSeconds: 300 },
  worker: { concurrency: 2, batchSize: 4 }
})
