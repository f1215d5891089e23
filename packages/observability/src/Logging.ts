/**
 * Structured logs: Effect's `Logger` writes through pino, so every `Effect.log*` call,
 * with its annotations, spans and the current trace, becomes one JSON line (pretty on a
 * terminal). Secrets are kept out three ways: values wrapped in `Redacted` print as
 * `<redacted>`, values under well-known secret keys (at the top of a line or up to two
 * objects down) are censored, and passwords inside URLs are cut out of messages and errors.
 */
import { Cause, Context, Effect, FiberRef, FiberRefs, Layer, List, Logger, LogLevel, Option, Tracer } from "effect"
import { pino } from "pino"
import pretty from "pino-pretty"
import type { Writable } from "node:stream"
import { LoggingConfig, type LogLevelName } from "./LoggingConfig.js"

const secretKeys: ReadonlySet<string> = new Set([
  "password",
  "secret",
  "token",
  "accessToken",
  "refreshToken",
  "apiKey",
  "authorization",
  "cookie"
])

export const censored = "[redacted]"

/** How many objects down from a line's top a secret key is still looked for. */
const redactDepth = 2

/**
 * `value` with whatever sits under a secret key, up to `depth` objects down, censored.
 * Copies only what it changes, and leaves the caller's objects alone. (Done here rather
 * than by pino's wildcard `redact` paths, which cost more than the rest of a line.)
 */
const redactSecrets = (value: unknown, depth: number): unknown => {
  if (depth === 0 || typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) {
    let copy: Array<unknown> | undefined
    value.forEach((item, index) => {
      const redacted = redactSecrets(item, depth - 1)
      if (redacted !== item) (copy ??= [...value])[index] = redacted
    })
    return copy ?? value
  }
  // What JSON.stringify would write is what gets looked through (a Redacted, a Date, an Option…).
  if ("toJSON" in value && typeof value.toJSON === "function") {
    const written: unknown = value.toJSON()
    return written === value ? value : redactSecrets(written, depth)
  }
  let copy: Record<string, unknown> | undefined
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key]
    const redacted = secretKeys.has(key) ? censored : redactSecrets(item, depth - 1)
    if (redacted !== item) (copy ??= { ...value as Record<string, unknown> })[key] = redacted
  }
  return copy ?? value
}

/** Credentials inside URLs (`postgres://user:password@host`), wherever a message or error holds one. */
const urlCredentials = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s@/]+@/gi

const scrubCredentials = (text: string): string =>
  text.includes("://") ? text.replace(urlCredentials, "$1:[redacted]@") : text

const toEffectLevel: Record<LogLevelName, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  silent: LogLevel.None
}

const toPinoLevel = (level: LogLevel.LogLevel): pino.Level => {
  switch (level._tag) {
    case "All":
    case "Trace":
      return "trace"
    case "Debug":
      return "debug"
    case "Info":
      return "info"
    case "Warning":
      return "warn"
    case "Error":
      return "error"
    default:
      return "fatal"
  }
}

/** What a log line shows of a value: errors by their type, message and stack, strings scrubbed. */
const renderValue = (value: unknown): unknown => {
  if (value instanceof Error) {
    return {
      type: value.name,
      message: scrubCredentials(value.message),
      ...(value.stack === undefined ? {} : { stack: scrubCredentials(value.stack) })
    }
  }
  return typeof value === "string" ? scrubCredentials(value) : value
}

const renderMessage = (message: unknown): { readonly msg: string; readonly data: ReadonlyArray<unknown> } => {
  const parts = Array.isArray(message) ? message : [message]
  const text: Array<string> = []
  const data: Array<unknown> = []
  for (const part of parts) {
    if (typeof part === "string") text.push(part)
    else data.push(renderValue(part))
  }
  return { msg: text.join(" "), data }
}

/** An Effect `Logger` that hands every entry to `target`. */
const makePinoLogger = (target: pino.Logger): Logger.Logger<unknown, void> =>
  Logger.make(({ annotations, cause, context, date, logLevel, message, spans }) => {
    const level = toPinoLevel(logLevel)
    if (!target.isLevelEnabled(level)) return
    const fields: Record<string, unknown> = {}
    for (const [key, value] of annotations) {
      fields[key] = secretKeys.has(key) ? censored : redactSecrets(renderValue(value), redactDepth)
    }
    const currentSpan = Context.getOption(FiberRefs.getOrDefault(context, FiberRef.currentContext), Tracer.ParentSpan)
    if (Option.isSome(currentSpan)) {
      fields.traceId = currentSpan.value.traceId
      fields.spanId = currentSpan.value.spanId
    }
    if (List.isCons(spans)) {
      const now = date.getTime()
      fields.spans = Object.fromEntries(List.toArray(spans).map((span) => [span.label, now - span.startTime]))
    }
    if (!Cause.isEmpty(cause)) {
      fields.err = scrubCredentials(Cause.pretty(cause, { renderErrorCause: true }))
    }
    const { data, msg } = renderMessage(message)
    if (data.length > 0) {
      fields.data = redactSecrets(data.length === 1 ? data[0] : data, redactDepth)
    }
    target[level](fields, renderValue(msg) as string)
  })

export interface PinoLoggerOptions {
  /** Where lines go; stdout unless a test captures them. */
  readonly destination?: Writable | undefined
}

const makeDestination = (format: LoggingConfig["format"], destination: Writable | undefined) => {
  if (destination !== undefined) return destination
  const usePretty = format === "pretty" || (format === "auto" && process.stdout.isTTY === true)
  return usePretty
    ? pretty({ colorize: true, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" })
    // Written as each line is made (pino's default): nothing is lost when the process dies,
    // and on a file or pipe it cost less than handing every line to a libuv thread.
    : pino.destination({ dest: 1, sync: true })
}

/** Replaces Effect's default logger with pino for the whole program and flushes on shutdown. */
export const layer = (options: PinoLoggerOptions = {}): Layer.Layer<never, import("effect/ConfigError").ConfigError> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const config = yield* LoggingConfig
      const target = yield* Effect.acquireRelease(
        Effect.sync(() =>
          pino(
            {
              level: config.level,
              base: { pid: process.pid },
              timestamp: pino.stdTimeFunctions.isoTime,
              formatters: { level: (label) => ({ level: label }) }
            },
            makeDestination(config.format, options.destination)
          )
        ),
        (target) => Effect.sync(() => target.flush())
      )
      return Layer.merge(
        Logger.replace(Logger.defaultLogger, makePinoLogger(target)),
        Logger.minimumLogLevel(toEffectLevel[config.level])
      )
    })
  )
