import { Context } from "effect"

/** The job a handler is running; its id is a natural idempotency key. */
export class CurrentJob extends Context.Tag("@nestfleet/jobs/CurrentJob")<CurrentJob, {
  readonly id: string
  readonly name: string
  /** 1 for the first run, 2 for the first retry, … */
  readonly attempt: number
  readonly maxAttempts: number
}>() {}
