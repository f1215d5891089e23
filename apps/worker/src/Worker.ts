/**
 * The worker: one pg-boss worker per pipeline step, each running its handler as an Effect
 * program. The steps (triage, known-issue match, auto-reply, change-prep, …) register here
 * as they are built.
 */
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Effect, Layer } from "effect"

const steps: ReadonlyArray<Layer.Layer<never, never, JobQueue>> = []

const announce = Layer.scopedDiscard(
  Effect.acquireRelease(
    Effect.logInfo(`Worker started with ${steps.length} pipeline step(s)`),
    () => Effect.logInfo("Worker stopped; running jobs finished")
  )
)

export const WorkerLive = Layer.mergeAll(announce, ...steps)
