import { Config } from "effect"

const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const
export type LogLevelName = typeof logLevels[number]

const logFormats = ["auto", "json", "pretty"] as const
export type LogFormat = typeof logFormats[number]

export interface LoggingConfig {
  readonly level: LogLevelName
  /** `auto` is pretty on a terminal and JSON lines everywhere else. */
  readonly format: LogFormat
}

export const LoggingConfig: Config.Config<LoggingConfig> = Config.all({
  level: Config.literal(...logLevels)("LOG_LEVEL").pipe(Config.withDefault("info" as const)),
  format: Config.literal(...logFormats)("LOG_FORMAT").pipe(Config.withDefault("auto" as const))
})
