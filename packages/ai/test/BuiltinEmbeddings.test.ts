import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as BuiltinEmbeddings from "../src/BuiltinEmbeddings.js"

const dot = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.reduce((total, x, i) => total + x * b[i]!, 0)
const norm = (v: ReadonlyArray<number>) => Math.sqrt(dot(v, v))

/** A stand-in encoder whose loads are counted; each load takes a tick, so concurrent first calls overlap it. */
const countingLoader = (failFirst = false) => {
  const counts = { loads: 0, calls: 0 }
  const load = async (): Promise<BuiltinEmbeddings.SentenceEncoder> => {
    counts.loads++
    await new Promise((resolve) => setTimeout(resolve, 20))
    if (failFirst && counts.loads === 1) throw new Error("weights missing")
    return {
      embed: async (texts) => {
        counts.calls++
        return texts.map((text) => [text.length, 1, 0])
      }
    }
  }
  return { counts, load }
}

describe("BuiltinEmbeddings with the bundled USE-lite", () => {
  it.effect("gives one unit-length 512-number vector per text, in order", () =>
    Effect.gen(function*() {
      const texts = ["Refund the duplicate charge", "The console is down", ""]
      const vectors = yield* BuiltinEmbeddings.embed(texts)
      expect(vectors).toHaveLength(3)
      for (const vector of vectors) {
        expect(vector).toHaveLength(BuiltinEmbeddings.dimensions)
        expect(norm(vector)).toBeCloseTo(1, 5)
      }
      const [again] = yield* BuiltinEmbeddings.embed(["The console is down"])
      expect(dot(again!, vectors[1]!)).toBeCloseTo(1, 5)
    }))

  it.effect("puts questions that mean the same closer than unrelated ones", () =>
    Effect.gen(function*() {
      const [lockedOut, resetPassword, doubleCharge, outage] = yield* BuiltinEmbeddings.embed([
        "I forgot my password and now I can't sign in to my account",
        "How do I reset my login password?",
        "Our credit card was charged twice for the March invoice",
        "The dashboard returns 503 errors for every user since this morning"
      ])
      expect(dot(lockedOut!, resetPassword!)).toBeGreaterThan(dot(lockedOut!, doubleCharge!))
      expect(dot(lockedOut!, resetPassword!)).toBeGreaterThan(dot(lockedOut!, outage!))
      expect(dot(resetPassword!, lockedOut!)).toBeGreaterThan(dot(resetPassword!, outage!))
    }))

  it.effect("batches long inputs without changing the vectors", () =>
    Effect.gen(function*() {
      const texts = Array.from({ length: 70 }, (_, i) => `Support case number ${i} about a failed payment`)
      const together = yield* BuiltinEmbeddings.embed(texts)
      const alone = yield* BuiltinEmbeddings.embed([texts[65]!])
      expect(together).toHaveLength(70)
      expect(dot(together[65]!, alone[0]!)).toBeCloseTo(1, 5)
    }))
})

describe("BuiltinEmbeddings loading", () => {
  it.effect("loads nothing until asked, then once for concurrent first callers", () =>
    Effect.gen(function*() {
      const { counts, load } = countingLoader()
      const embedder = BuiltinEmbeddings.make(load)
      expect(counts.loads).toBe(0)
      const results = yield* Effect.all(
        Array.from({ length: 8 }, (_, i) => embedder.embed([`text ${i}`])),
        { concurrency: "unbounded" }
      )
      expect(counts.loads).toBe(1)
      expect(results).toHaveLength(8)
      yield* embedder.embed(["later"])
      expect(counts.loads).toBe(1)
    }))

  it.effect("does not load for no texts", () =>
    Effect.gen(function*() {
      const { counts, load } = countingLoader()
      expect(yield* BuiltinEmbeddings.make(load).embed([])).toEqual([])
      expect(counts.loads).toBe(0)
    }))

  it.effect("fails typed when the model cannot load, and tries again on the next call", () =>
    Effect.gen(function*() {
      const { counts, load } = countingLoader(true)
      const embedder = BuiltinEmbeddings.make(load)
      const failed = yield* Effect.exit(embedder.embed(["x"]))
      expect(Exit.isFailure(failed) && failed.cause._tag === "Fail" && failed.cause.error._tag).toBe("EmbeddingModelFailed")
      const vectors = yield* embedder.embed(["xy"])
      expect(counts.loads).toBe(2)
      expect(vectors[0]).toEqual(BuiltinEmbeddings.normalise([2, 1, 0]))
    }))
})
