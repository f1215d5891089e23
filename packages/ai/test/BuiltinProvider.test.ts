import { describe, expect, it } from "@effect/vitest"
import { Effect, JSONSchema, Schema } from "effect"
import * as BuiltinEmbeddings from "../src/BuiltinEmbeddings.js"
import * as BuiltinProvider from "../src/BuiltinProvider.js"
import * as EmbeddingTriage from "../src/EmbeddingTriage.js"
import * as LexicalTriage from "../src/LexicalTriage.js"
import { Llm, type LlmProvider, task } from "../src/Llm.js"
import * as TriageTask from "../src/TriageTask.js"

type CompleteRequest = Parameters<LlmProvider["complete"]>[0]

/** A provider that answers every task with `text`; what it was asked lands in `requests`. Embedding dies. */
const answering = (text: string, requests: Array<CompleteRequest> = []): LlmProvider => ({
  name: "double",
  embedding: { model: "double-embedding", dimensions: 3 },
  complete: (request) =>
    Effect.sync(() => {
      requests.push(request)
      return { text, model: "double-1" }
    }),
  embed: () => Effect.die("embed is not stubbed")
})

const withLlm = <A, E>(provider: LlmProvider, f: (llm: Llm) => Effect.Effect<A, E>) =>
  Effect.flatMap(Llm, f).pipe(Effect.provide(Llm.layerWith(provider)))

const builtin = <A, E>(f: (llm: Llm) => Effect.Effect<A, E>) => withLlm(BuiltinProvider.provider, f)

const triage = (llm: Llm, subject: string, body: string) =>
  llm.generate(TriageTask.triage, TriageTask.encodeInput({ subject, body }))

const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.reduce((total, x, i) => total + x * b[i]!, 0)
const norm = (v: ReadonlyArray<number>) => Math.sqrt(v.reduce((total, x) => total + x * x, 0))

const messages = [
  { subject: "Charged twice for March", body: "Our card was charged twice this month, please refund one of the payments." },
  { subject: "Can't log in", body: "I'm locked out of my account after the password reset." },
  { subject: "Outage", body: "The console is down for all users since 10:00, everyone gets a 503." },
  { subject: "Dark mode?", body: "It would be great to have a dark theme for night shifts." },
  { subject: "hi", body: "hello there, quick thing" }
]

describe("BuiltinProvider through the Llm service", () => {
  it.effect("answers triage with JSON that decodes with the task's Schema and matches the classifier", () =>
    builtin((llm) =>
      Effect.gen(function*() {
        expect((yield* llm.currentProvider).name).toBe("builtin")
        expect(BuiltinProvider.model).toBe(EmbeddingTriage.model.model)
        for (const { subject, body } of messages) {
          const generated = yield* triage(llm, subject, body)
          expect(generated.provider).toBe(BuiltinProvider.name)
          expect(generated.model).toBe(BuiltinProvider.model)
          const expected = yield* EmbeddingTriage.classify({ subject, body }, BuiltinEmbeddings.embed)
          expect(generated.value.type).toBe(expected.type)
          expect(generated.value.severity).toBe(expected.severity)
          expect(generated.value.confidence).toBe(expected.confidence)
          expect(generated.value.summary).toBe(expected.summary)
          expect(generated.value.reasoning.map((step) => ({ ...step }))).toEqual(expected.reasoning)
        }
      })
    ))

  it.effect("gives raw text that the task's Schema decodes on its own", () =>
    Effect.gen(function*() {
      const answer = yield* BuiltinProvider.provider.complete({
        task: TriageTask.triage.name,
        tier: TriageTask.triage.tier,
        instructions: TriageTask.triage.instructions,
        input: TriageTask.encodeInput(messages[0]!),
        outputSchema: JSONSchema.make(TriageTask.TriageOutput)
      })
      expect(answer.model).toBe(BuiltinProvider.model)
      const decoded = Schema.decodeUnknownSync(Schema.parseJson(TriageTask.TriageOutput))(answer.text)
      const expected = yield* EmbeddingTriage.classify(messages[0]!, BuiltinEmbeddings.embed)
      expect(decoded).toMatchObject({ type: expected.type, severity: expected.severity, confidence: expected.confidence })
      expect(decoded.reasoning.length).toBeGreaterThan(0)
      // Only the task's fields: the classifier's probabilities stay out of the answer.
      expect(Object.keys(JSON.parse(answer.text) as object).toSorted()).toEqual(
        ["confidence", "reasoning", "severity", "summary", "type"]
      )
    }))

  it.effect("is deterministic through the service", () =>
    builtin((llm) =>
      Effect.gen(function*() {
        for (const { subject, body } of messages) {
          const first = yield* triage(llm, subject, body)
          const second = yield* triage(llm, subject, body)
          expect(JSON.stringify(second.value)).toBe(JSON.stringify(first.value))
        }
      })
    ))

  it.effect("fails with LlmUnavailable for a task it does not know", () =>
    builtin((llm) =>
      Effect.gen(function*() {
        const summarise = task({
          name: "summarise",
          tier: "standard",
          instructions: "Summarise the thread.",
          output: Schema.Struct({ summary: Schema.String })
        })
        const error = yield* Effect.flip(llm.generate(summarise, "{}"))
        expect(error._tag).toBe("LlmUnavailable")
        expect(error.message).toContain("summarise")
        if (error._tag === "LlmUnavailable") expect(error.provider).toBe("builtin")
      })
    ))

  it.effect("fails with LlmUnavailable when the triage input is not {subject, body}", () =>
    builtin((llm) =>
      Effect.gen(function*() {
        for (const input of ["not json", JSON.stringify({ subject: "only a subject" })]) {
          const error = yield* Effect.flip(llm.generate(TriageTask.triage, input))
          expect(error._tag).toBe("LlmUnavailable")
          expect(error.message).toContain("{subject, body}")
        }
      })
    ))

  describe("with a provider double", () => {
    it.effect("passes the task's name, tier, instructions, input and JSON Schema to the provider", () => {
      const requests: Array<CompleteRequest> = []
      const good = JSON.stringify(LexicalTriage.classify(messages[1]!))
      return withLlm(answering(good, requests), (llm) =>
        Effect.gen(function*() {
          const generated = yield* triage(llm, messages[1]!.subject, messages[1]!.body)
          expect(generated).toMatchObject({ provider: "double", model: "double-1" })
          expect(generated.value.type).toBe("account")
          expect(requests).toHaveLength(1)
          const [request] = requests
          expect(request!.task).toBe("triage")
          expect(request!.tier).toBe("fast")
          expect(request!.instructions).toBe(TriageTask.triage.instructions)
          expect(JSON.parse(request!.input)).toEqual(messages[1])
          expect(JSON.stringify(request!.outputSchema)).toContain("feature_request")
        })
      )
    })

    it.effect("that is not JSON fails with LlmMalformedOutput", () =>
      withLlm(answering("Sure! The type is bug and the severity is high."), (llm) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(triage(llm, "Crash", "The app crashes"))
          expect(error._tag).toBe("LlmMalformedOutput")
          if (error._tag !== "LlmMalformedOutput") return
          expect(error).toMatchObject({ provider: "double", model: "double-1", task: "triage" })
          expect(error.message).toContain("not JSON")
        })
      ))

    it.effect("that is JSON of the wrong shape fails with LlmMalformedOutput naming the problem", () =>
      Effect.gen(function*() {
        const valid = LexicalTriage.classify(messages[0]!)
        const wrong: ReadonlyArray<readonly [unknown, string]> = [
          [{ ...valid, type: "complaint" }, "type"],
          [{ ...valid, severity: "urgent" }, "severity"],
          [{ ...valid, confidence: 1.4 }, "confidence"],
          [{ ...valid, summary: "" }, "summary"],
          [{ ...valid, reasoning: [] }, "reasoning"],
          [{ ...valid, reasoning: [{ step: "Type", detail: "x" }] }, "evidence"],
          [{ type: "bug" }, "severity"],
          [["bug", "high"], "Expected"],
          ["bug", "Expected"],
          [null, "Expected"]
        ]
        for (const [answer, named] of wrong) {
          const error = yield* withLlm(answering(JSON.stringify(answer)), (llm) =>
            Effect.flip(triage(llm, "Crash", "The app crashes")))
          expect(error._tag, JSON.stringify(answer)).toBe("LlmMalformedOutput")
          expect(error.message, JSON.stringify(answer)).toContain(named)
        }
      }))
  })

  describe("embed", () => {
    it.effect("returns one unit vector of embeddingDimensions per text", () =>
      builtin((llm) =>
        Effect.gen(function*() {
          const texts = ["The login page rejects my password", "Please send the March invoice", "a"]
          const { vectors } = yield* llm.embed(texts)
          expect(vectors).toHaveLength(texts.length)
          for (const vector of vectors) {
            expect(vector).toHaveLength(BuiltinProvider.embeddingDimensions)
            expect(norm(vector)).toBeCloseTo(1, 10)
          }
          expect((yield* llm.embed(texts)).vectors).toEqual(vectors)
        })
      ))

    it.effect("puts similar texts closer than unrelated ones", () =>
      builtin((llm) =>
        Effect.gen(function*() {
          const [login, loginAgain, invoice, outage] = (yield* llm.embed([
            "The login page rejects my password since this morning",
            "Since this morning my password is rejected on the login page",
            "Please send us the March invoice with our VAT number",
            "All users get a 503 error, the whole service is down"
          ])).vectors
          const similar = cosine(login!, loginAgain!)
          expect(similar).toBeGreaterThan(0.5)
          expect(similar).toBeGreaterThan(cosine(login!, invoice!))
          expect(similar).toBeGreaterThan(cosine(login!, outage!))
        })
      ))
  })
})
