/**
 * The worker: one pg-boss worker per pipeline step, each running its handler as an Effect
 * program. The steps (triage, known-issue match, auto-reply, change-prep, …) register here
 * as they are built.
 */
import { LlmFromSettings } from "@nestfleet/core/AiSettings"
import { AutoReply } from "@nestfleet/core/AutoReply"
import { ChangePreps } from "@nestfleet/core/ChangePreps"
import { Embeddings } from "@nestfleet/core/Embeddings"
import { Knowledge } from "@nestfleet/core/Knowledge"
import { KnownIssueMatch } from "@nestfleet/core/KnownIssueMatch"
import { ReplyDelivery } from "@nestfleet/core/ReplyDelivery"
import { Triage } from "@nestfleet/core/Triage"
import { FetchHttpClient } from "@effect/platform"
import { Effect, Layer } from "effect"
import { AutoReplyStepLive } from "./pipeline/AutoReplyStep.js"
import { ChangePrepStepLive } from "./pipeline/ChangePrepStep.js"
import { DeliverReplyStepLive, ReplyUndeliveredStepLive } from "./pipeline/DeliverReplyStep.js"
import { EmbedArticleStepLive } from "./pipeline/EmbedArticleStep.js"
import { EmbedSpaceStepLive } from "./pipeline/EmbedSpaceStep.js"
import { KnownIssueMatchStepLive } from "./pipeline/KnownIssueMatchStep.js"
import { TriageStepLive } from "./pipeline/TriageStep.js"

const steps = [
  TriageStepLive,
  KnownIssueMatchStepLive,
  AutoReplyStepLive,
  DeliverReplyStepLive,
  ReplyUndeliveredStepLive,
  ChangePrepStepLive,
  EmbedArticleStepLive,
  EmbedSpaceStepLive
] as const

/** Built before the steps and so closed after them: "stopped" is logged once every step has stopped. */
const lifecycle = Layer.scopedDiscard(
  Effect.acquireRelease(
    Effect.logInfo(`Worker starting ${steps.length} pipeline step(s)`),
    () => Effect.logInfo("Worker stopped")
  )
)

export const WorkerLive = Layer.mergeAll(...steps).pipe(
  Layer.provide(lifecycle),
  Layer.provide(Layer.mergeAll(
      Triage.Default,
      KnownIssueMatch.Default,
      AutoReply.Default,
      ReplyDelivery.Default,
      ChangePreps.Default,
      Knowledge.Default,
      Embeddings.Default
    ).pipe(Layer.provide(FetchHttpClient.layer))),
  // The model the AI settings name at each call, changed by admins without a restart. The
  // settings service itself is the process's (worker main.ts, or the API's in one process).
  Layer.provide(LlmFromSettings)
)
