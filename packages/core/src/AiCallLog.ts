/**
 * Every model call recorded in `ai_calls`, with the case and pipeline step it served (from
 * `LlmCallSite`, which each step sets). A record that cannot be written is logged and let go:
 * bookkeeping never fails the step it describes.
 */
import { LlmCalls } from "@nestfleet/ai/Llm"
import { AiCallsRepo } from "@nestfleet/db/AiCallsRepo"
import { CaseId } from "@nestfleet/domain/Cases"
import { Effect, Layer, Option, Schema } from "effect"

const asCaseId = Schema.decodeUnknownOption(CaseId)

export const AiCallLogLive = Layer.effect(
  LlmCalls,
  Effect.map(AiCallsRepo, (repo) => ({
    record: (call) =>
      repo.insert({
        ...call,
        caseId: call.caseId === null ? null : Option.getOrNull(asCaseId(call.caseId))
      }).pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("AiCallLog: a model call could not be recorded", cause))
      )
  }))
).pipe(Layer.provide(AiCallsRepo.Default))
