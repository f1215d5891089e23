/** What `Llm.generate` makes of a model's answer, whatever the provider. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref } from "effect"
import { Llm, type LlmCall, LlmCalls, LlmCallSite, LlmMalformedOutput, type LlmProvider, LlmTimedOut } from "../src/Llm.js"
import * as ScriptedProvider from "../src/testing/ScriptedProvider.js"
import * as TriageTask from "../src/TriageTask.js"

it.effect("makes what PostgreSQL cannot store storable: lone surrogates and NUL in the answer become U+FFFD", () =>
  Effect.gen(function*() {
    const llm = yield* Llm
    const generated = yield* llm.generate(TriageTask.triage, TriageTask.encodeInput({ subject: "Crash", body: "" }))
    expect(generated.value.summary).toBe("Bug report: \uFFFD crash\uFFFD")
    expect(generated.value.reasoning[0]!.evidence).toEqual(["cra\uFFFDsh"])
  }).pipe(Effect.provide(ScriptedProvider.layer([
    // As a model would write them: JSON escapes, which JSON.parse turns into the characters.
    ScriptedProvider.text(
      TriageTask.triage,
      String.raw`{"type":"bug","severity":"high","confidence":0.9,"summary":"Bug report: \ud800 crash\u0000",` +
        String.raw`"reasoning":[{"step":"Type: bug","detail":"d","evidence":["cra\udc00sh"]}]}`
    )
  ]))))

const bug: typeof TriageTask.TriageOutput.Encoded = {
  type: "bug",
  severity: "high",
  confidence: 0.9,
  summary: "Bug report: Crash",
  reasoning: [{ step: "Type: bug", detail: "d", evidence: ["crash"] }]
}
const input = TriageTask.encodeInput({ subject: "Crash", body: "" })

/** A provider that answers every task with `text` and embeds every text as `vector`. */
const fixed = (name: string, text: string, vector: ReadonlyArray<number> = [1, 0, 0]): LlmProvider => ({
  name,
  embedding: { model: `${name}-embedding`, dimensions: 3 },
  complete: () => Effect.succeed({ text, model: `${name}-1`, usage: { inputTokens: 3, outputTokens: 4 } }),
  embed: (texts) => Effect.succeed(texts.map(() => vector))
})

const recording = () => {
  const calls: Array<LlmCall> = []
  return { calls, recorder: { record: (call: LlmCall) => Effect.sync(() => void calls.push(call)) } }
}

describe("Llm", () => {
  it.effect("layerDynamic takes the provider per call: a change of settings needs no restart", () =>
    Effect.gen(function*() {
      const current = yield* Ref.make(fixed("first", JSON.stringify(bug)))
      const llm = yield* Effect.provide(Llm, Llm.layerDynamic(Ref.get(current)))
      expect((yield* llm.generate(TriageTask.triage, input)).provider).toBe("first")
      expect(yield* llm.embed(["a"])).toEqual({ vectors: [[1, 0, 0]], provider: "first", model: "first-embedding", dimensions: 3 })
      yield* Ref.set(current, fixed("second", JSON.stringify(bug)))
      expect((yield* llm.generate(TriageTask.triage, input)).model).toBe("second-1")
      expect((yield* llm.embed(["a"])).model).toBe("second-embedding")
      expect((yield* llm.currentProvider).name).toBe("second")
    }))

  it.effect("records each provider call with the call site; a recorder around the call wins over the layer's", () =>
    Effect.gen(function*() {
      const layer = recording()
      const around = recording()
      const llm = yield* Effect.provide(
        Llm,
        Llm.layerWith(fixed("double", JSON.stringify(bug))).pipe(Layer.provide(Layer.succeed(LlmCalls, layer.recorder)))
      )
      yield* llm.generate(TriageTask.triage, input).pipe(
        Effect.provideService(LlmCallSite, { caseId: "case-7", step: "triage" })
      )
      yield* llm.embed(["a", "b"]).pipe(Effect.provideService(LlmCalls, around.recorder))
      expect(layer.calls).toEqual([{
        task: "triage",
        kind: "completion",
        provider: "double",
        model: "double-1",
        inputTokens: 3,
        outputTokens: 4,
        latencyMs: 0,
        outcome: "ok",
        caseId: "case-7",
        step: "triage"
      }])
      expect(around.calls).toEqual([{
        task: "embed",
        kind: "embedding",
        provider: "double",
        model: "double-embedding",
        inputTokens: null,
        outputTokens: null,
        latencyMs: 0,
        outcome: "ok",
        caseId: null,
        step: null
      }])
    }))

  it.effect("a recorder that fails costs the record, not the answer", () =>
    Effect.gen(function*() {
      const llm = yield* Effect.provide(Llm, Llm.layerWith(fixed("double", JSON.stringify(bug))))
      const generated = yield* llm.generate(TriageTask.triage, input).pipe(
        Effect.provideService(LlmCalls, { record: () => Effect.die("the database is gone") })
      )
      expect(generated.value.type).toBe("bug")
    }))

  it.effect("a failed call is recorded with its outcome", () =>
    Effect.gen(function*() {
      const { calls, recorder } = recording()
      const failing: LlmProvider = {
        ...fixed("double", ""),
        complete: () => Effect.fail(new LlmTimedOut({ provider: "double", model: "slow-1", message: "no answer" }))
      }
      const llm = yield* Effect.provide(Llm, Llm.layerWith(failing))
      const error = yield* Effect.flip(llm.generate(TriageTask.triage, input).pipe(Effect.provideService(LlmCalls, recorder)))
      expect(error).toBeInstanceOf(LlmTimedOut)
      expect(calls).toMatchObject([{ outcome: "timeout", model: "slow-1", inputTokens: null, outputTokens: null }])
    }))

  it.effect("embeddings: as many vectors as texts, of the provider's size, or LlmMalformedOutput; none asked for nothing", () =>
    Effect.gen(function*() {
      const short = yield* Effect.provide(Llm, Llm.layerWith(fixed("double", "", [1, 0])))
      const wrongSize = yield* Effect.flip(short.embed(["a"]))
      expect(wrongSize).toMatchObject({ _tag: "LlmMalformedOutput", task: "embed", model: "double-embedding" })
      expect(wrongSize.message).toContain("3 dimensions")

      const dropping: LlmProvider = { ...fixed("double", ""), embed: () => Effect.succeed([[1, 0, 0]]) }
      const fewer = yield* Effect.flip(Effect.flatMap(Effect.provide(Llm, Llm.layerWith(dropping)), (llm) => llm.embed(["a", "b"])))
      expect(fewer.message).toContain("Expected 2 vector(s), got 1")

      const { calls, recorder } = recording()
      const nothing = yield* short.embed([]).pipe(Effect.provideService(LlmCalls, recorder))
      expect(nothing).toMatchObject({ vectors: [], model: "double-embedding", dimensions: 3 })
      expect(calls).toEqual([])
    }))
})

describe("the repair turn, with a scripted model", () => {
  it.effect("asks again once with the bad answer and the problem, and takes the repaired answer", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      expect((yield* llm.generate(TriageTask.triage, input)).value.type).toBe("bug")
      const [first, repair] = yield* ScriptedProvider.requests
      expect(first!.repair).toBeUndefined()
      expect(repair!.repair!.previousAnswer).toBe("Sure! It is a bug.")
      expect(repair!.repair!.problem).toContain("not JSON")
      expect(repair!.input).toBe(first!.input)
    }).pipe(Effect.provide(ScriptedProvider.layer([
      ScriptedProvider.text(TriageTask.triage, "Sure! It is a bug."),
      ScriptedProvider.answer(TriageTask.triage, bug)
    ], { repair: true }))))

  it.effect("fails with LlmMalformedOutput when the repair is malformed too", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generate(TriageTask.triage, input))
      expect(error).toBeInstanceOf(LlmMalformedOutput)
      expect(error.message).toContain("severity")
      expect(yield* ScriptedProvider.requests).toHaveLength(2)
    }).pipe(Effect.provide(ScriptedProvider.layer([
      ScriptedProvider.text(TriageTask.triage, "Sure! It is a bug."),
      ScriptedProvider.text(TriageTask.triage, JSON.stringify({ type: "bug" }))
    ], { repair: true }))))
})
