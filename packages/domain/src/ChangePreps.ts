/**
 * Change-prep: for a bug or incident no article answers, a pull-request draft for the
 * engineers — the problem, how to reproduce it, where in the product it likely is and why,
 * what it touches, how risky a change is, how to test and roll it back.
 */
import { Schema } from "effect"
import { CaseId } from "./Cases.js"

export const RiskLevel = Schema.Literal("low", "medium", "high")

export class SuspectedComponent extends Schema.Class<SuspectedComponent>("SuspectedComponent")({
  name: Schema.String,
  pathHints: Schema.Array(Schema.String),
  /** What in the messages points at it. */
  why: Schema.String
}) {}

export class Risk extends Schema.Class<Risk>("Risk")({
  level: RiskLevel,
  reasons: Schema.Array(Schema.String)
}) {}

/** A case of the same product the match step found alike: "also reported in #12". */
export class RelatedCase extends Schema.Class<RelatedCase>("RelatedCase")({
  caseId: CaseId,
  caseNumber: Schema.Number,
  title: Schema.String,
  score: Schema.Number
}) {}

export class ChangePrep extends Schema.Class<ChangePrep>("ChangePrep")({
  caseId: CaseId,
  title: Schema.String,
  summary: Schema.String,
  reproduction: Schema.Array(Schema.String),
  components: Schema.Array(SuspectedComponent),
  surfaces: Schema.Array(Schema.String),
  risk: Risk,
  testPlan: Schema.Array(Schema.String),
  rollback: Schema.String,
  relatedCases: Schema.Array(RelatedCase),
  /** Who wrote it: provider/model. */
  author: Schema.String,
  createdAt: Schema.Date
}) {}
