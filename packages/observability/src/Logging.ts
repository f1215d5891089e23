/**
 * Structured logs: Effect's `Logger` writes through pino, so every `Effect.log*` call,
 * with its annotations, spans and the current trace, becomes one JSON line (pretty on a
 * terminal). Secrets are kept out three ways: values wrapped in `Redacted` print as
 * `<redacted>`, values under well-known secret keys (at the top of a line or up to two
 * objects down) are censored, and passwords inside URLs are cut out of messages and errors.
 *
 * Effect also writes every log line as an event on the current span (`Logger.tracerLogger`),
 * and spans leave the process for the OTLP collector: that logger is replaced by one whose
 * events are redacted the same way.
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

/** A line's annotations, with what sits under a secret key censored. */
const annotationFields = (annotations: Iterable<readonly [string, unknown]>): Record<string, unknown> => {
  const fields: Record<string, unknown> = {}
  for (const [key, value] of annotations) {
    fields[key] = secretKeys.has(key) ? censored : redactSecrets(renderValue(value), redactDepth)
  }
  return fields
}

const renderCause = (cause: Cause.Cause<unknown>) => scrubCredentials(Cause.pretty(cause, { renderErrorCause: true }))

const currentSpanOf = (context: FiberRefs.FiberRefs) =>
  Context.getOption(FiberRefs.getOrDefault(context, FiberRef.currentContext), Tracer.ParentSpan)

/** An Effect `Logger` that hands every entry to `target`. */
const makePinoLogger = (target: pino.Logger): Logger.Logger<unknown, void> =>
  Logger.make(({ annotations, cause, context, date, logLevel, message, spans }) => {
    const level = toPinoLevel(logLevel)
    if (!target.isLevelEnabled(level)) return
    const fields = annotationFields(annotations)
    const currentSpan = currentSpanOf(context)
    if (Option.isSome(currentSpan)) {
      fields.traceId = currentSpan.value.traceId
      fields.spanId = currentSpan.value.spanId
    }
    if (List.isCons(spans)) {
      const now = date.getTime()
      fields.spans = Object.fromEntries(List.toArray(spans).map((span) => [span.label, now - span.startTime]))
    }
    if (!Cause.isEmpty(cause)) fields.err = renderCause(cause)
    const { data, msg } = renderMessage(message)
    if (data.length > 0) {
      fields.data = redactSecrets(data.length === 1 ? data[0] : data, redactDepth)
    }
    target[level](fields, renderValue(msg) as string)
  })

/**
 * Every log line as an event on the current span, as Effect's `Logger.tracerLogger` writes it
 * (the message, the annotations, `effect.logLevel`), redacted as the line is — and without
 * the cause: a cause may quote anything (a statement's values, a message quoting the request),
 * so it stays in the log, whose line carries the span's ids. Only spans of this process get
 * events; a parent from another process cannot.
 */
const spanEventLogger: Logger.Logger<unknown, void> = Logger.make(
  ({ annotations, context, date, logLevel, message }) => {
    const span = currentSpanOf(context)
    if (Option.isNone(span) || span.value._tag === "ExternalSpan") return
    const attributes = annotationFields(annotations)
    attributes["effect.logLevel"] = logLevel.label
    const { data, msg } = renderMessage(message)
    if (data.length > 0) attributes["effect.data"] = redactSecrets(data.length === 1 ? data[0] : data, redactDepth)
    span.value.event(renderValue(msg) as string, BigInt(date.getTime()) * BigInt(1_000_000), attributes)
  }
)

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

/**
 * Replaces Effect's default logger with pino, and its span-event logger with a redacting one,
 * for the whole program; flushes on shutdown.
 */
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
      return Layer.mergeAll(
        Logger.replace(Logger.defaultLogger, makePinoLogger(target)),
        Logger.replace(Logger.tracerLogger, spanEventLogger),
        Logger.minimumLogLevel(toEffectLevel[config.level])
      )
    })
  )
