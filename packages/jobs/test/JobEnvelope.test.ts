import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Schema } from "effect"
import * as JobEnvelope from "../src/JobEnvelope.js"

describe("JobEnvelope", () => {
  it("reads an envelope with or without a trace context", () => {
    expect(JobEnvelope.read({ payload: { a: 1 } })).toEqual(Either.right({ payload: { a: 1 } }))
    const traced = { payload: null, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
    expect(JobEnvelope.read(traced)).toEqual(Either.right(traced))
  })

  it("says why data that is not an envelope cannot be read", () => {
    for (const data of [null, "text", 42, [], { name: "no payload" }, { payload: 1, traceparent: 7 }]) {
      const read = JobEnvelope.read(data)
      expect(Either.isLeft(read)).toBe(true)
      expect(Either.getLeft(read)).toEqual(Option.some(expect.stringContaining("not a job envelope")))
    }
  })

  it.effect("carries the enqueuing span to the worker as its parent", () =>
    Effect.gen(function*() {
      const span = yield* Effect.currentSpan
      const envelope = yield* JobEnvelope.wrap({ a: 1 })
      const parent = Option.getOrThrow(JobEnvelope.parentSpan(envelope))
      expect(parent).toMatchObject({ traceId: span.traceId, spanId: span.spanId, sampled: true })
    }).pipe(Effect.withSpan("enqueue")))

  it.effect("has no parent for an envelope made outside any span or with a malformed traceparent", () =>
    Effect.gen(function*() {
      const envelope = yield* JobEnvelope.wrap({ a: 1 })
      expect(envelope).toEqual({ payload: { a: 1 } })
      expect(JobEnvelope.parentSpan(envelope)).toEqual(Option.none())
      expect(JobEnvelope.parentSpan({ traceparent: "00-not-a-trace-01" })).toEqual(Option.none())
    }))

  it("decodes a job's data with its payload Schema, with the enqueuer's span, or says why it cannot", () => {
    const decode = JobEnvelope.makeDecoder(Schema.Struct({ name: Schema.NonEmptyString, times: Schema.NumberFromString }))
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    const decoded = Either.getOrThrow(decode({ payload: { name: "a", times: "2" }, traceparent }))
    expect(decoded.payload).toEqual({ name: "a", times: 2 })
    expect(decoded.parent).toEqual(Option.some(expect.objectContaining({ traceId: "0af7651916cd43dd8448eb211c80319c" })))
    expect(Either.getOrThrow(decode({ payload: { name: "a", times: "2" } })).parent).toEqual(Option.none())
    expect(Either.getLeft(decode({ payload: { name: "", times: "2" } }))).toEqual(Option.some(expect.stringContaining("name")))
    expect(Either.getLeft(decode({ name: "a", times: "2" }))).toEqual(Option.some(expect.stringContaining("not a job envelope")))
  })
})
