/**
 * The worker: one pg-boss worker per pipeline step, each running its handler as an Effect
 * program. The steps (triage, known-issue match, auto-reply, change-prep, …) register here
 * as they are built.
 */
import { LlmLive } from "@nestfleet/ai/LlmLive"
import { Triage } from "@nestfleet/core/Triage"
import { Effect, Layer } from "effect"
import { TriageStepLive } from "./pipeline/TriageStep.js"

const steps = [TriageStepLive] as const

/** Built before the steps and so closed after them: "stopped" is logged once every step has stopped. */
const lifecycle = Layer.scopedDiscard(
  Effect.acquireRelease(
    Effect.logInfo(`Worker starting ${steps.length} pipeline step(s)`),
    () => Effect.logInfo("Worker stopped")
  )
)

export const WorkerLive = Layer.mergeAll(...steps).pipe(
  Layer.provide(lifecycle),
  Layer.provide(Triage.Default),
  Layer.provide(LlmLive)
)
