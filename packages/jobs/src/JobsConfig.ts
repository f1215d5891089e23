import { Config, Duration } from "effect"

export interface JobsConfig {
  /** The longest a worker waits for a job when a NOTIFY was missed; NOTIFY wakes it at once. */
  readonly pollingIntervalSeconds: number
  /** How long a graceful stop waits for running jobs before it gives up on them. */
  readonly shutdownTimeout: Duration.Duration
  /**
   * How often the queue is supervised: attempts past their expiry, or whose worker stopped
   * heartbeating (a killed process), are failed and retried in these passes.
   */
  readonly superviseIntervalSeconds: number
}

/** How long a graceful stop waits for running requests and jobs before cutting them off. */
export const ShutdownTimeout = Config.duration("SHUTDOWN_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))

export const JobsConfig: Config.Config<JobsConfig> = Config.all({
  pollingIntervalSeconds: Config.number("JOBS_POLLING_INTERVAL_SECONDS").pipe(
    Config.validate({ message: "Expected a number of seconds, at least 0.5", validation: (n) => n >= 0.5 }),
    Config.withDefault(10)
  ),
  shutdownTimeout: ShutdownTimeout,
  superviseIntervalSeconds: Config.integer("JOBS_SUPERVISE_INTERVAL_SECONDS").pipe(
    Config.validate({ message: "Expected a whole number of seconds, from 1 to 86400", validation: (n) => n >= 1 && n <= 86_400 }),
    Config.withDefault(60)
  )
})
