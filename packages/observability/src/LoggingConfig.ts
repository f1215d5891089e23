import { Config, Schema } from "effect"

export const LogLevelName = Schema.Literal("trace", "debug", "info", "warn", "error", "fatal", "silent")
export type LogLevelName = typeof LogLevelName.Type

export const LogFormat = Schema.Literal("auto", "json", "pretty")
export type LogFormat = typeof LogFormat.Type

export interface LoggingConfig {
  readonly level: LogLevelName
  /** `auto` is pretty on a terminal and JSON lines everywhere else. */
  readonly format: LogFormat
}

export const LoggingConfig: Config.Config<LoggingConfig> = Config.all({
  level: Schema.Config("LOG_LEVEL", LogLevelName).pipe(Config.withDefault("info" as const)),
  format: Schema.Config("LOG_FORMAT", LogFormat).pipe(Config.withDefault("auto" as const))
})
