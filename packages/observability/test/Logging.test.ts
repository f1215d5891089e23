/**
 * What a log line keeps out: values under secret keys (at the top of the line and two
 * objects down), `Redacted` values, and passwords inside URLs — without touching the
 * objects the caller logged.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { Writable } from "node:stream"
import * as Logging from "../src/Logging.js"

const capture = () => {
  const lines: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n")) if (line.trim() !== "") lines.push(JSON.parse(line))
      callback()
    }
  })
  const layer = Logging.layer({ destination }).pipe(
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["LOG_LEVEL", "trace"]]))))
  )
  return { lines, layer }
}

describe("log lines", () => {
  it.effect("censor secret keys in annotations and in logged objects, two objects down, leaving the rest", () => {
    const { layer, lines } = capture()
    const logged = {
      user: { email: "ada@example.com", password: "nested-password-1" },
      token: "top-token-2",
      deep: { a: { b: { secret: "three-down-is-not-looked-at" } } }
    }
    const snapshot = structuredClone(logged)
    return Effect.gen(function*() {
      yield* Effect.logInfo("with data", logged).pipe(
        Effect.annotateLogs({
          password: "annotation-password-4",
          request: { headers: { authorization: "Bearer annotation-token-5", accept: "json" } },
          plain: "visible",
          list: [{ apiKey: "key-in-a-list-3", keep: "kept" }]
        })
      )
      const [line] = lines
      expect(line?.password).toBe(Logging.censored)
      expect(line?.request).toEqual({ headers: { authorization: Logging.censored, accept: "json" } })
      expect(line?.plain).toBe("visible")
      expect(line?.list).toEqual([{ apiKey: Logging.censored, keep: "kept" }])
      expect(line?.data).toEqual({
        user: { email: "ada@example.com", password: Logging.censored },
        token: Logging.censored,
        deep: { a: { b: { secret: "three-down-is-not-looked-at" } } }
      })
      // The caller's object is as it was.
      expect(logged).toEqual(snapshot)
    }).pipe(Effect.provide(layer))
  })

  it.effect("print Redacted values as <redacted>, look inside what toJSON writes, and cut passwords out of URLs", () => {
    const { layer, lines } = capture()
    return Effect.gen(function*() {
      yield* Effect.logWarning("connecting to postgres://app:hunter2@db:5432/app").pipe(
        Effect.annotateLogs({
          key: Redacted.make("redacted-value-6"),
          option: Option.some({ password: "inside-an-option-7" }),
          url: "https://user:pass-in-url-8@example.com/x"
        })
      )
      const text = JSON.stringify(lines)
      for (const secret of ["hunter2", "redacted-value-6", "inside-an-option-7", "pass-in-url-8"]) {
        expect([text.includes(secret), secret]).toEqual([false, secret])
      }
      expect(lines[0]?.msg).toBe("connecting to postgres://app:[redacted]@db:5432/app")
      expect(lines[0]?.key).toBe("<redacted>")
      expect(lines[0]?.url).toBe("https://user:[redacted]@example.com/x")
    }).pipe(Effect.provide(layer))
  })
})

describe("span events", () => {
  it.effect("are redacted as log lines are, and carry no cause: a line logged inside a span reaches it without its secrets", () => {
    const { layer } = capture()
    return Effect.gen(function*() {
      const span = yield* Effect.gen(function*() {
        yield* Effect.logError("connect to postgres://app:hunter2@db:5432/app failed", new Error("postgres://app:hunter2@db refused"))
          .pipe(
            Effect.annotateLogs({ password: "annotation-password-9", plain: "visible" })
          )
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("work"))
      const events = (span as unknown as { readonly events: ReadonlyArray<readonly [string, bigint, Record<string, unknown>]> })
        .events
      expect(events).toHaveLength(1)
      const [name, , attributes] = events[0]!
      expect(name).toBe("connect to postgres://app:[redacted]@db:5432/app failed")
      expect(attributes).toMatchObject({ password: Logging.censored, plain: "visible", "effect.logLevel": "ERROR" })
      expect(attributes).not.toHaveProperty("effect.cause")
      const text = JSON.stringify(events, (_key, value) => typeof value === "bigint" ? String(value) : value)
      expect(text).not.toContain("hunter2")
      expect(text).not.toContain("annotation-password-9")
    }).pipe(Effect.provide(layer))
  })

})

