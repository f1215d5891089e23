/**
 * The worker: one pg-boss worker per pipeline step, each running its handler as an Effect
 * program. The steps (triage, known-issue match, auto-reply, change-prep, …) register here
 * as they are built.
 */
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Effect, Layer } from "effect"

const steps: ReadonlyArray<Layer.Layer<never, never, JobQueue>> = []

/** Built before the steps and so closed after them: "stopped" is logged once every step has stopped. */
const lifecycle = Layer.scopedDiscard(
  Effect.acquireRelease(
    Effect.logInfo(`Worker starting ${steps.length} pipeline step(s)`),
    () => Effect.logInfo("Worker stopped")
  )
)

export const WorkerLive = Layer.mergeAll(Layer.empty, ...steps).pipe(Layer.provide(lifecycle))
