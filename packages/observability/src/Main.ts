/**
 * How a NestFleet process runs: check every configuration variable up front (a bad one
 * stops the start with a message naming it), route logs through pino and spans to the
 * tracer, run the process, and on SIGTERM/SIGINT close it gracefully.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, type Config, ConfigError, Effect } from "effect"
import * as Logging from "./Logging.js"
import * as Tracing from "./Tracing.js"

const describeConfigError = (error: ConfigError.ConfigError): ReadonlyArray<string> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...describeConfigError(error.left), ...describeConfigError(error.right)]
    case "InvalidData":
      return [`${error.path.join("_")}: ${error.message}`]
    case "MissingData":
      return [`${error.path.join("_")}: is required`]
    case "SourceUnavailable":
      return [`${error.path.join("_")}: could not be read (${error.message})`]
    case "Unsupported":
      return [`${error.path.join("_")}: ${error.message}`]
  }
}

/** The configuration problems in `error`, one per line, each naming its variable. */
export const formatConfigError = (error: ConfigError.ConfigError): string =>
  [...new Set(describeConfigError(error))].map((line) => `  ${line}`).join("\n")

const reportInvalidConfig = (error: ConfigError.ConfigError) =>
  Effect.sync(() => process.stderr.write(`NestFleet cannot start: invalid configuration\n${formatConfigError(error)}\n`))

export interface MainOptions<A, E> {
  /** Names the service in logs and traces. */
  readonly service: string
  /** Every variable the process reads, checked before anything starts. */
  readonly config: Config.Config<unknown>
  /** What the process does: a long-running one is `Layer.launch(app)`, which runs until interrupted. */
  readonly main: Effect.Effect<A, E>
}

export const program = <A, E>(options: MainOptions<A, E>) =>
  Effect.gen(function*() {
    yield* options.config
    return yield* options.main.pipe(
      Effect.tapErrorCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logFatal(`${options.service} stopped on an error`, cause)
      ),
      Effect.provide(Tracing.layer(options.service)),
      Effect.provide(Logging.layer()),
      Effect.annotateLogs("service", options.service)
    )
  }).pipe(
    Effect.tapError((error) => (ConfigError.isConfigError(error) ? reportInvalidConfig(error) : Effect.void))
  )

/** Runs the process; SIGTERM or SIGINT interrupts it, which closes its layers gracefully. */
export const runMain = <A, E>(options: MainOptions<A, E>): void =>
  NodeRuntime.runMain(program(options), { disableErrorReporting: true, disablePrettyLogger: true })
