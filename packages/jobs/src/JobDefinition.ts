/**
 * A job in the catalogue: the queue it lives in, the Schema of its payload, and how it is
 * retried. Producers and workers share the definition, so a payload is checked on both
 * sides of the queue.
 */
import type { Schema } from "effect"

export interface RetryPolicy {
  /** Attempts after the first one before the job fails for good. */
  readonly retryLimit: number
  /** Seconds before the first retry; doubled on each one when `backoff` is on. */
  readonly retryDelaySeconds: number
  readonly backoff: boolean
  /** Upper bound for the backed-off delay. */
  readonly retryDelayMaxSeconds?: number
  /** An attempt still running after this long is considered lost and retried. */
  readonly expireInSeconds: number
  /**
   * An attempt whose worker has not said it is alive for this long (at least 10) is considered
   * lost and retried: a killed worker's job is found within this and a supervision pass
   * (JobsConfig), not only at `expireInSeconds`.
   */
  readonly heartbeatSeconds?: number
}

export interface WorkerSettings {
  /** Fetch loops per worker process for this queue. */
  readonly concurrency: number
  /** Jobs each loop fetches at once and runs side by side. */
  readonly batchSize: number
}

export interface JobDefinition<Name extends string = string, A = any, I = any> {
  readonly name: Name
  readonly payload: Schema.Schema<A, I>
  readonly retry: RetryPolicy
  readonly worker: WorkerSettings
  /**
   * The job whose queue receives this one, payload unchanged, once it failed for good — after
   * its last attempt failed, crashed or expired — so that its work can be wound up. The copy
   * takes the dead letter queue's retry policy, but pg-boss leaves out its backoff cap, so a
   * dead letter job retries at a fixed delay (no backoff).
   */
  readonly deadLetter?: string
}

export declare namespace JobDefinition {
  export type Any = JobDefinition<string, any, any>
  export type Payload<J> = J extends JobDefinition<string, infer A, any> ? A : never
}

const defaultRetry: RetryPolicy = {
  retryLimit: 5,
  retryDelaySeconds: 5,
  backoff: true,
  retryDelayMaxSeconds: 600,
  expireInSeconds: 900
}

const defaultWorker: WorkerSettings = { concurrency: 2, batchSize: 4 }

const queueName = /^[a-z][a-z0-9_]{0,62}$/

export const make = <const Name extends string, A, I>(
  name: Name,
  options: {
    readonly payload: Schema.Schema<A, I>
    readonly retry?: Partial<RetryPolicy>
    readonly worker?: Partial<WorkerSettings>
    readonly deadLetter?: JobDefinition.Any
  }
): JobDefinition<Name, A, I> => {
  if (!queueName.test(name)) {
    throw new Error(`Job name "${name}" must be snake_case: a letter, then letters, digits or underscores`)
  }
  const heartbeat = options.retry?.heartbeatSeconds
  if (heartbeat !== undefined && !(Number.isInteger(heartbeat) && heartbeat >= 10)) {
    throw new Error(`Job "${name}": heartbeatSeconds must be a whole number of seconds, at least 10`)
  }
  if (options.deadLetter?.deadLetter !== undefined) {
    throw new Error(`Job "${name}": its dead letter job ${options.deadLetter.name} may not have a dead letter job of its own`)
  }
  if (options.deadLetter?.retry.backoff === true) {
    throw new Error(`Job "${name}": its dead letter job ${options.deadLetter.name} must retry without backoff (pg-boss would not cap it)`)
  }
  return {
    name,
    payload: options.payload,
    retry: { ...defaultRetry, ...options.retry },
    worker: { ...defaultWorker, ...options.worker },
    ...(options.deadLetter === undefined ? {} : { deadLetter: options.deadLetter.name })
  }
}
