/**
 * The OpenAI-compatible provider through the `Llm`, the real `openai` SDK and a local server
 * speaking the OpenAI wire format. Waits (Retry-After, back-off, LLM_TIMEOUT) run on the
 * TestClock: a test sees what the code sleeps on and moves the clock past it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Duration, Effect, Exit, Fiber, Layer, Option, Redacted, Schema, TestClock } from "effect"
import { Llm, type LlmCall, LlmCalls, LlmCallSite, LlmMalformedOutput, LlmTimedOut, LlmUnavailable, task } from "../src/Llm.js"
import type { OpenAiSettings } from "../src/LlmConfig.js"
import * as OpenAiProvider from "../src/OpenAiProvider.js"
import * as Wire from "../src/testing/OpenAiWireServer.js"
import * as TriageTask from "../src/TriageTask.js"

const apiKey = "sk-test-4f1c2b9e7d3a5c8f"

const settings = (baseUrl: string, overrides: Partial<OpenAiSettings> = {}): OpenAiSettings => ({
  provider: "openai",
  baseUrl,
  apiKey: Redacted.make(apiKey),
  models: { fast: "fast-model", standard: "standard-model", complex: "complex-model" },
  embeddingModel: "embedding-model",
  embeddingDimensions: 4,
  // Long, so that the timeouts of earlier attempts never look like a retry's wait.
  timeout: Duration.minutes(5),
  ...overrides
})

const verdict: typeof TriageTask.TriageOutput.Encoded = {
  type: "bug",
  severity: "high",
  confidence: 0.9,
  summary: "Bug report: Checkout crashes",
  reasoning: [{ step: "Type: bug", detail: "\"crashes\" in the subject", evidence: ["crashes"] }]
}
const good = JSON.stringify(verdict)
const input = TriageTask.encodeInput({ subject: "Checkout crashes", body: "Every time I pay." })

/** A task with an optional property, which strict mode cannot leave out: the model writes null. */
const summarise = task({
  name: "summarise thread",
  tier: "complex",
  instructions: "Summarise the thread.",
  output: Schema.Struct({ summary: Schema.String, ticket: Schema.optional(Schema.String) })
})

/** The Llm over an OpenAI provider talking to `server`, and the calls it records. */
const llmOver = (server: Wire.OpenAiWireServer, overrides: Partial<OpenAiSettings> = {}) =>
  Effect.gen(function*() {
    const provider = yield* OpenAiProvider.make(settings(server.baseUrl, overrides))
    const calls: Array<LlmCall> = []
    const recorder = Layer.succeed(LlmCalls, { record: (call) => Effect.sync(() => void calls.push(call)) })
    const llm = yield* Effect.provide(Llm, Llm.layerWith(provider).pipe(Layer.provide(recorder)))
    return { llm, calls, provider }
  })

/** The body the SDK sent, as JSON. */
const bodyOf = (request: Wire.RecordedRequest | undefined) => {
  expect(request).toBeDefined()
  return request!.body as {
    readonly model: string
    readonly messages: ReadonlyArray<{ readonly role: string; readonly content: string }>
    readonly response_format?: {
      readonly type: string
      readonly json_schema?: { readonly name: string; readonly strict: boolean; readonly schema: Record<string, unknown> }
    }
    readonly input?: ReadonlyArray<string>
    readonly dimensions?: number
    readonly encoding_format?: string
  }
}

const realPause = (ms = 5) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Sleeps pending on the TestClock that are a retry's wait, not an attempt's timeout. */
const retryWaits = Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  return Chunk.toReadonlyArray(yield* TestClock.sleeps()).filter((end) => end > now && end - now <= 60_000)
})

/**
 * Runs `effect` to its end, moving the TestClock to each wait it sleeps on between attempts;
 * gives its exit and those waits, in milliseconds.
 */
const runThroughWaits = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    const waits: Array<number> = []
    for (let polls = 0; polls < 5_000; polls++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return { exit: done.value, waits }
      const pending = yield* retryWaits
      if (pending.length > 0) {
        const wait = Math.min(...pending) - (yield* Clock.currentTimeMillis)
        waits.push(wait)
        yield* TestClock.adjust(Duration.millis(wait))
      } else {
        yield* realPause()
      }
    }
    return yield* Effect.dieMessage("the call neither ended nor waited")
  })

describe("OpenAiProvider", () => {
  it.scoped("asks with strict json_schema, the tier's model and the Bearer key, and records the call", () =>
    Effect.gen(function*() {
      const server = yield* Wire.make({
        chat: [Wire.chat(good, { model: "fast-model-2025-04-14", usage: { inputTokens: 120, outputTokens: 45 } })]
      })
      const { calls, llm } = yield* llmOver(server)
      const generated = yield* llm.generate(TriageTask.triage, input).pipe(
        Effect.provideService(LlmCallSite, { caseId: "case-1", step: "triage" })
      )
      expect(generated.provider).toBe("openai")
      expect(generated.model).toBe("fast-model-2025-04-14")
      expect(Schema.encodeSync(TriageTask.TriageOutput)(generated.value)).toEqual(verdict)

      const [request] = yield* server.requests
      expect(request).toMatchObject({ method: "POST", path: "/v1/chat/completions" })
      expect(request!.headers.authorization).toBe(`Bearer ${apiKey}`)
      const body = bodyOf(request)
      expect(body.model).toBe("fast-model")
      expect(body.messages.map((message) => message.role)).toEqual(["system", "user"])
      expect(body.messages[0]!.content).toContain(TriageTask.triage.instructions)
      expect(body.messages[1]!.content).toBe(input)
      const format = body.response_format!
      expect(format.type).toBe("json_schema")
      expect(format.json_schema).toMatchObject({ name: "triage", strict: true })
      const schema = format.json_schema!.schema
      expect(schema).toMatchObject({
        type: "object",
        additionalProperties: false,
        required: ["type", "severity", "confidence", "summary", "reasoning"]
      })
      // What strict mode does not know is left to the task's Schema when the answer is decoded.
      expect(JSON.stringify(schema)).not.toContain("minLength")
      expect(JSON.stringify(schema)).not.toContain("$schema")
      expect(schema).toHaveProperty(["$defs", "ReasoningStep", "additionalProperties"], false)

      expect(calls).toEqual([{
        task: "triage",
        kind: "completion",
        provider: "openai",
        model: "fast-model-2025-04-14",
        inputTokens: 120,
        outputTokens: 45,
        latencyMs: 0,
        outcome: "ok",
        caseId: "case-1",
        step: "triage"
      }])
    }))

  it.scoped("asks each tier's model; an optional property the model gives as null is absent", () =>
    Effect.gen(function*() {
      const server = yield* Wire.make({
        chat: [Wire.chat(JSON.stringify({ summary: "A crash at checkout", ticket: null }), { usage: null })]
      })
      const { calls, llm } = yield* llmOver(server)
      const generated = yield* llm.generate(summarise, "thread")
      expect(generated.value).toEqual({ summary: "A crash at checkout" })
      const body = bodyOf((yield* server.requests)[0])
      expect(body.model).toBe("complex-model")
      expect(body.response_format!.json_schema!.name).toBe("summarise_thread")
      expect(body.response_format!.json_schema!.schema).toMatchObject({
        required: ["summary", "ticket"],
        properties: { ticket: { anyOf: [{ type: "string" }, { type: "null" }] } }
      })
      // A server that reports no usage: tokens unknown, not zero.
      expect(calls[0]).toMatchObject({ inputTokens: null, outputTokens: null, outcome: "ok", caseId: null, step: null })
    }))

  it.scoped("falls back to JSON mode on a server that refuses json_schema, and remembers it", () =>
    Effect.gen(function*() {
      const server = yield* Wire.make({
        chat: [
          Wire.error(400, "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.", {
            param: "response_format"
          }),
          Wire.chat(good),
          Wire.chat(good)
        ]
      })
      const { calls, llm } = yield* llmOver(server)
      expect((yield* llm.generate(TriageTask.triage, input)).value.type).toBe("bug")
      expect((yield* llm.generate(TriageTask.triage, input)).value.type).toBe("bug")

      const [refused, fallback, later] = (yield* server.requests).map(bodyOf)
      expect(refused!.response_format!.type).toBe("json_schema")
      expect(fallback!.response_format).toEqual({ type: "json_object" })
      // JSON mode knows no schema: the prompt carries it.
      expect(fallback!.messages[0]!.content).toContain("JSON Schema")
      expect(fallback!.messages[0]!.content).toContain("feature_request")
      expect(later!.response_format).toEqual({ type: "json_object" })
      // The refusal is part of the first call, not a call of its own.
      expect(calls.map((call) => call.outcome)).toEqual(["ok", "ok"])
    }))

  it.scoped("asks with the prompt alone when JSON mode is refused too (422 then 400)", () =>
    Effect.gen(function*() {
      const server = yield* Wire.make({
        chat: [
          Wire.error(422, "json_schema: unsupported"),
          Wire.error(400, "'response_format.type' must be 'text'"),
          Wire.chat(good)
        ]
      })
      const { llm } = yield* llmOver(server)
      yield* llm.generate(TriageTask.triage, input)
      const bodies = (yield* server.requests).map(bodyOf)
      expect(bodies.map((body) => body.response_format?.type)).toEqual(["json_schema", "json_object", undefined])
      expect(bodies[2]!.messages[0]!.content).toContain("JSON Schema")
    }))

  it.scoped("a 400 about something else is not a fallback: LlmUnavailable, asked once", () =>
    Effect.gen(function*() {
      const server = yield* Wire.make({ chat: [Wire.error(400, "The model `fast-model` does not exist", { code: "model_not_found" })] })
      const { calls, llm } = yield* llmOver(server)
      const error = yield* Effect.flip(llm.generate(TriageTask.triage, input))
      expect(error).toBeInstanceOf(LlmUnavailable)
      expect(error.message).toContain("does not exist")
      expect(yield* server.requests).toHaveLength(1)
      expect(calls).toMatchObject([{ outcome: "unavailable", model: "fast-model", inputTokens: null }])
    }))

  describe("a malformed answer", () => {
    it.scoped("that is not JSON gets one repair turn, with the bad answer and the problem", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({ chat: [Wire.chat("Sure! It is a bug."), Wire.chat(good)] })
        const { calls, llm } = yield* llmOver(server)
        const generated = yield* llm.generate(TriageTask.triage, input)
        expect(generated.value.severity).toBe("high")

        const [, repair] = (yield* server.requests).map(bodyOf)
        expect(repair!.messages.map((message) => message.role)).toEqual(["system", "user", "assistant", "user"])
        expect(repair!.messages[2]!.content).toBe("Sure! It is a bug.")
        expect(repair!.messages[3]!.content).toContain("not JSON")
        expect(repair!.response_format!.type).toBe("json_schema")
        expect(calls.map((call) => call.outcome)).toEqual(["malformed", "ok"])
      }))

    it.scoped("that breaks the Schema is repaired naming what broke", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({ chat: [Wire.chat(JSON.stringify({ ...verdict, confidence: 1.4 })), Wire.chat(good)] })
        const { llm } = yield* llmOver(server)
        expect((yield* llm.generate(TriageTask.triage, input)).value.confidence).toBe(0.9)
        const [, repair] = (yield* server.requests).map(bodyOf)
        expect(repair!.messages[3]!.content).toContain("confidence")
      }))

    it.scoped("twice is LlmMalformedOutput, and both calls are recorded", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({
          chat: [Wire.chat("Sure! It is a bug."), Wire.chat(JSON.stringify({ type: "bug" }), { model: "fast-model-2" })]
        })
        const { calls, llm } = yield* llmOver(server)
        const error = yield* Effect.flip(llm.generate(TriageTask.triage, input))
        expect(error).toBeInstanceOf(LlmMalformedOutput)
        expect(error).toMatchObject({ provider: "openai", model: "fast-model-2", task: "triage" })
        expect(error.message).toContain("severity")
        expect(error.message).toContain("repair")
        expect(yield* server.requests).toHaveLength(2)
        expect(calls.map((call) => call.outcome)).toEqual(["malformed", "malformed"])
      }))
  })

  describe("retries", () => {
    it.scoped("a 429 waits what Retry-After says before asking again, and not a moment less", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({
          chat: [Wire.error(429, "Rate limit reached", { headers: { "retry-after": "2" } }), Wire.chat(good)]
        })
        const { calls, llm } = yield* llmOver(server)
        const fiber = yield* Effect.fork(llm.generate(TriageTask.triage, input))
        yield* server.received(1)
        let pending = yield* retryWaits
        while (pending.length === 0) {
          yield* realPause()
          pending = yield* retryWaits
        }
        expect(pending).toEqual([2_000])
        yield* TestClock.adjust("1999 millis")
        yield* realPause(50)
        expect(yield* server.requests).toHaveLength(1)
        yield* TestClock.adjust("1 millis")
        const generated = yield* Fiber.join(fiber)
        expect(generated.value.type).toBe("bug")
        expect(yield* server.requests).toHaveLength(2)
        // One provider call, whose latency includes the wait.
        expect(calls).toMatchObject([{ outcome: "ok", latencyMs: 2_000 }])
      }))

    it.scoped("honours retry-after-ms and an HTTP-date Retry-After", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({
          chat: [
            Wire.error(429, "Slow down", { headers: { "retry-after-ms": "1500", "retry-after": "1" } }),
            // At 1.5 s, a date 5.5 s later.
            Wire.error(503, "Overloaded", { headers: { "retry-after": new Date(7_000).toUTCString() } }),
            Wire.chat(good)
          ]
        })
        const { llm } = yield* llmOver(server)
        const { exit, waits } = yield* runThroughWaits(llm.generate(TriageTask.triage, input))
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(waits).toEqual([1_500, 5_500])
      }))

    it.scoped("a 500 is retried with back-off, then succeeds", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({
          chat: [Wire.error(500, "Internal error"), Wire.error(502, "Bad gateway"), Wire.chat(good)]
        })
        const { llm } = yield* llmOver(server)
        const { exit, waits } = yield* runThroughWaits(llm.generate(TriageTask.triage, input))
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(waits).toEqual([1_000, 2_000])
      }))

    it.scoped("a persistent 500 is retried three times, then LlmUnavailable", () =>
      Effect.gen(function*() {
        const failing = Wire.error(500, "Internal error")
        const server = yield* Wire.make({ chat: [failing, failing, failing, failing, Wire.chat(good)] })
        const { calls, llm } = yield* llmOver(server)
        const { exit, waits } = yield* runThroughWaits(llm.generate(TriageTask.triage, input))
        expect(waits).toEqual([1_000, 2_000, 4_000])
        expect(yield* server.requests).toHaveLength(4)
        const error = yield* Effect.flip(exit)
        expect(error).toBeInstanceOf(LlmUnavailable)
        expect(error.message).toContain("500")
        expect(error.message).toContain("tried 4 times")
        expect(calls).toMatchObject([{ outcome: "unavailable", latencyMs: 7_000 }])
      }))

    it.scoped("a Retry-After beyond the longest wait is not waited for here: LlmUnavailable at once", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({
          chat: [Wire.error(429, "Quota", { headers: { "retry-after": "120" } }), Wire.chat(good)]
        })
        const { llm } = yield* llmOver(server)
        const { exit, waits } = yield* runThroughWaits(llm.generate(TriageTask.triage, input))
        expect(waits).toEqual([])
        const error = yield* Effect.flip(exit)
        expect(error).toBeInstanceOf(LlmUnavailable)
        expect(error.message).toContain("it asks to wait 2m, longer than 30s")
        expect(yield* server.requests).toHaveLength(1)
      }))

    it.scoped("another 4xx is not retried, and the key never shows in the error", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({
          chat: [Wire.error(401, `Incorrect API key provided: ${apiKey}`, { code: "invalid_api_key" })]
        })
        const { llm } = yield* llmOver(server)
        const error = yield* Effect.flip(llm.generate(TriageTask.triage, input))
        expect(error).toBeInstanceOf(LlmUnavailable)
        expect(error.message).toContain("401")
        expect(error.message).toContain("[redacted]")
        for (const text of [error.message, String(error), JSON.stringify(error)]) expect(text).not.toContain(apiKey)
        expect(yield* server.requests).toHaveLength(1)
      }))
  })

  it.scoped("a stalled response is LlmTimedOut after LLM_TIMEOUT, and recorded as a timeout", () =>
    Effect.gen(function*() {
      const server = yield* Wire.make({ chat: [Wire.stall] })
      const { calls, llm } = yield* llmOver(server, { timeout: Duration.seconds(20) })
      const fiber = yield* Effect.fork(llm.generate(TriageTask.triage, input))
      yield* server.received(1)
      yield* TestClock.adjust("19 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toBeInstanceOf(LlmTimedOut)
      expect(error).toMatchObject({ provider: "openai", model: "fast-model" })
      expect(error.message).toContain("LLM_TIMEOUT")
      expect(calls).toMatchObject([{ outcome: "timeout", latencyMs: 20_000, model: "fast-model" }])
    }))

  describe("embed", () => {
    it.scoped("asks in batches of 96 with the model and dimensions, and keeps the texts' order", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({ embeddings: [Wire.embeddingsOfSize(4), Wire.embeddingsOfSize(4), Wire.embeddingsOfSize(4)] })
        const { calls, llm } = yield* llmOver(server)
        const texts = Array.from({ length: 200 }, (_, i) => `text number ${i}`.padEnd(10 + (i % 5), "."))
        const embedded = yield* llm.embed(texts).pipe(Effect.provideService(LlmCallSite, { caseId: null, step: "embed_article" }))
        expect(embedded).toMatchObject({ provider: "openai", model: "embedding-model", dimensions: 4 })
        expect(embedded.vectors).toHaveLength(200)
        embedded.vectors.forEach((vector, i) =>
          expect(vector).toEqual(Array.from({ length: 4 }, (_, d) => ((texts[i]!.length + d) % 7) / 7))
        )

        const requests = yield* server.requests
        expect(requests.map((request) => request.path)).toEqual(Array(3).fill("/v1/embeddings"))
        const bodies = requests.map(bodyOf)
        expect(bodies.map((body) => body.input!.length)).toEqual([96, 96, 8])
        expect(bodies.flatMap((body) => body.input)).toEqual(texts)
        for (const body of bodies) {
          expect(body).toMatchObject({ model: "embedding-model", dimensions: 4, encoding_format: "float" })
        }
        expect(requests[0]!.headers.authorization).toBe(`Bearer ${apiKey}`)
        expect(calls).toMatchObject([{ task: "embed", kind: "embedding", model: "embedding-model", outcome: "ok", step: "embed_article" }])
      }))

    it.scoped("vectors of another size are LlmMalformedOutput, recorded as malformed", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({ embeddings: [Wire.embeddingsOfSize(3)] })
        const { calls, llm } = yield* llmOver(server)
        const error = yield* Effect.flip(llm.embed(["one", "two"]))
        expect(error).toBeInstanceOf(LlmMalformedOutput)
        expect(error).toMatchObject({ task: "embed", model: "embedding-model" })
        expect(error.message).toContain("4 dimensions")
        expect(calls).toMatchObject([{ kind: "embedding", outcome: "malformed" }])
      }))

    it.scoped("a model that refuses dimensions is asked without them from then on", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({
          embeddings: [
            Wire.error(400, "Model does not support matryoshka representation, changing output dimensions will lead to poor results."),
            Wire.embeddingsOfSize(4),
            Wire.embeddingsOfSize(4)
          ]
        })
        const { llm } = yield* llmOver(server)
        yield* llm.embed(["one"])
        yield* llm.embed(["two"])
        expect((yield* server.requests).map((request) => bodyOf(request).dimensions)).toEqual([4, undefined, undefined])
      }))

    it.scoped("another model of the same server is asked for by name: a query for vectors made before a model change", () =>
      Effect.gen(function*() {
        const server = yield* Wire.make({
          embeddings: [
            Wire.error(400, "This model does not support specifying dimensions."),
            Wire.embeddingsOfSize(3),
            Wire.embeddingsOfSize(4)
          ]
        })
        const { calls, llm } = yield* llmOver(server)
        const previous = yield* llm.embed(["one"], { provider: "openai", model: "previous-model", dimensions: 3 })
        expect(previous).toMatchObject({ provider: "openai", model: "previous-model", dimensions: 3 })
        // The previous model's refusal of `dimensions` is its own: the configured model is still asked with them.
        yield* llm.embed(["two"])
        expect((yield* server.requests).map(bodyOf).map(({ dimensions, model }) => ({ model, dimensions }))).toEqual([
          { model: "previous-model", dimensions: 3 },
          { model: "previous-model", dimensions: undefined },
          { model: "embedding-model", dimensions: 4 }
        ])
        expect(calls).toMatchObject([{ model: "previous-model", outcome: "ok" }, { model: "embedding-model", outcome: "ok" }])

        const elsewhere = yield* Effect.flip(llm.embed(["three"], { provider: "builtin", model: "builtin-use-lite-512", dimensions: 512 }))
        expect(elsewhere).toBeInstanceOf(LlmUnavailable)
        expect((yield* server.requests)).toHaveLength(3)
      }))

    it.scoped("a server that cannot be reached is LlmUnavailable naming it, without the key", () =>
      Effect.gen(function*() {
        const closed = yield* Effect.scoped(Effect.map(Wire.make({}), (server) => server.baseUrl))
        const provider = yield* OpenAiProvider.make(settings(closed))
        const error = yield* Effect.flip(provider.embed(["one"]))
        expect(error).toBeInstanceOf(LlmUnavailable)
        expect(error.message).toContain(closed)
        expect(JSON.stringify(error)).not.toContain(apiKey)
      }))
  })
})
