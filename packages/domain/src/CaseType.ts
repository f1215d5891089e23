/** What a case is about, as triage reads it (apart from Cases.ts so that product settings can name types). */
import { Schema } from "effect"

export const CaseType = Schema.Literal("bug", "question", "feature_request", "incident", "billing", "account", "other")
export type CaseType = typeof CaseType.Type
