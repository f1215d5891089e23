/** A case as its detail page shows it (apart from Cases.ts: it holds the case's drafts, which name cases). */
import { Schema } from "effect"
import { AiCall, CaseEvent, CaseMatch, CaseSummary, DuplicateMark, Message, ReasoningStep, Routing, Triage } from "./Cases.js"
import { DraftVersion } from "./Drafts.js"

export class CaseDetail extends Schema.Class<CaseDetail>("CaseDetail")({
  case: CaseSummary,
  messages: Schema.Array(Message),
  triage: Schema.NullOr(Triage),
  /** The latest known-issue match, best first (at most 10), with what was searched and decided. */
  matches: Schema.Array(CaseMatch),
  matchReasoning: Schema.Array(ReasoningStep),
  routing: Schema.NullOr(Routing),
  duplicate: Schema.NullOr(DuplicateMark),
  aiCalls: Schema.Array(AiCall),
  /** Every version of the case's reply draft, newest first. */
  drafts: Schema.Array(DraftVersion),
  timeline: Schema.Array(CaseEvent)
}) {}

