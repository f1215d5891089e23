import { Data } from "effect"

/** The job could not be enqueued (the queue is unknown, or the database refused it). */
export class JobSendError extends Data.TaggedError("JobSendError")<{
  readonly job: string
  readonly cause: unknown
}> {
  override get message() {
    return `Could not enqueue job ${this.job}: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** The queue (pg-boss) failed to start or to answer. */
export class JobQueueUnavailable extends Data.TaggedError("JobQueueUnavailable")<{
  readonly message: string
  readonly cause?: unknown
}> {}
