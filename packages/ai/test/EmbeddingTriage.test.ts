import { CaseType } from "@nestfleet/domain/Cases"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as BuiltinEmbeddings from "../src/BuiltinEmbeddings.js"
import * as EmbeddingTriage from "../src/EmbeddingTriage.js"
import { TriageOutput } from "../src/TriageTask.js"

const { model } = EmbeddingTriage

const classify = (subject: string, body: string) => EmbeddingTriage.classify({ subject, body }, BuiltinEmbeddings.embed)

/** A tiny model over 2-number embeddings, for checking the arithmetic by hand. */
const tiny = (temperature: number): EmbeddingTriage.TriageModel => {
  const width = 2 * 2 + 6
  const row = (k: number) => Array.from({ length: width }, (_, j) => (j === 0 && k === 0 ? 2 : j === 1 && k === 1 ? 1 : 0))
  return {
    ...model,
    dimensions: 2,
    weights: model.classes.map((_, k) => row(k)),
    bias: model.classes.map(() => 0),
    temperature
  }
}

/**
 * Support messages, one or two per type, as customers write them; not drawn from the training
 * issues. Used only to check the answers are sane, not to tune anything.
 */
const fixture: ReadonlyArray<{ readonly type: CaseType; readonly subject: string; readonly body: string }> = [
  {
    type: "bug",
    subject: "Checkout crashes with an error",
    body: "Every time I pay, the app crashes with TypeError: undefined is not a function. Steps to reproduce: add an item, pay."
  },
  {
    type: "bug",
    subject: "Export to CSV drops the last row",
    body: "When I export the tickets view to CSV, the final row is always missing. Expected all rows, got one fewer."
  },
  {
    type: "feature_request",
    subject: "Dark mode?",
    body: "It would be great to have a dark theme for night shifts. Could you add an option for it?"
  },
  {
    type: "question",
    subject: "How do I change the reply address?",
    body: "Where in the settings can I configure which address replies are sent from? I couldn't find it in the docs."
  },
  {
    type: "incident",
    subject: "Production outage: dashboard is down for all users",
    body: "Since 09:00 the dashboard is down for everyone, all users get 503 errors. This is an outage."
  },
  {
    type: "billing",
    subject: "Charged twice for March",
    body: "Our card was charged twice this month, please refund one of the payments and send a corrected invoice."
  },
  {
    type: "account",
    subject: "Can't log in",
    body: "I'm locked out of my account after the password reset, the reset email never arrives."
  }
]

describe("EmbeddingTriage model", () => {
  it("loads the shipped parameters with the shapes the features need", () => {
    expect(model.classes).toEqual(CaseType.literals)
    expect(model.dimensions).toBe(BuiltinEmbeddings.dimensions)
    expect(model.weights).toHaveLength(model.classes.length)
    for (const row of model.weights) expect(row).toHaveLength(2 * model.dimensions + model.lexicalTypes.length)
    expect(model.bias).toHaveLength(model.classes.length)
    expect(model.temperature).toBeGreaterThan(0)
    expect(model.weights.flat().every(Number.isFinite)).toBe(true)
  })

  it("rejects a model file whose shapes disagree", () => {
    expect(() => EmbeddingTriage.decodeModel({ ...model, bias: [0] })).toThrow(/biases/)
    expect(() => EmbeddingTriage.decodeModel({ ...model, weights: model.weights.map((row) => row.slice(1)) })).toThrow(
      /weight row/
    )
    expect(() => EmbeddingTriage.decodeModel({ ...model, temperature: 0 })).toThrow(/temperature/)
    expect(() => EmbeddingTriage.decodeModel({ ...model, classes: ["bug", "complaint"] })).toThrow()
  })

  it("computes probabilities as the softmax of the logits over the temperature", () => {
    const m = tiny(2)
    const input = { subject: "a", body: "b" }
    // Subject vector [1, 0]: bug's logit is 2, every other class's 0; the words add nothing.
    const { probabilities } = EmbeddingTriage.decide(input, [1, 0], [0, 0], m)
    const expected = Math.exp(1) / (Math.exp(1) + 6)
    expect(probabilities[0]).toBeCloseTo(expected, 10)
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10)
    // A higher temperature flattens the same logits.
    expect(EmbeddingTriage.decide(input, [1, 0], [0, 0], tiny(4)).probabilities[0]).toBeLessThan(expected)
    expect(EmbeddingTriage.decide(input, [1, 0], [0, 0], m).confidence).toBe(Math.round(expected * 100) / 100)
  })

  it("splits the winning margin into subject, body, words and prior", () => {
    const x = EmbeddingTriage.features([1, 0], [0, 1], [0, 0, 0, 0, 0, 0])
    const parts = EmbeddingTriage.logitParts(x, tiny(1))
    expect(parts[0]).toEqual({ bias: 0, subject: 2, body: 0, words: 0, total: 2 })
    expect(parts[1]!.total).toBe(0)
  })

  it("turns lexicon matches into features: scale × ln(1 + evidence), subject words counting more", () => {
    const evidence = EmbeddingTriage.lexicalEvidence({ subject: "Refund", body: "please refund the invoice" })
    expect(evidence.billing.map((match) => match.term)).toEqual(expect.arrayContaining(["refund", "invoice"]))
    expect(evidence.billing.find((match) => match.term === "refund")).toMatchObject({ count: 2, inSubject: true })
    const features = EmbeddingTriage.lexicalFeatures(evidence)
    const billing = features[model.lexicalTypes.indexOf("billing")]!
    expect(billing).toBeGreaterThan(0)
    expect(features[model.lexicalTypes.indexOf("feature_request")]).toBe(0)
  })
})

describe("EmbeddingTriage with the bundled sentence encoder", () => {
  it.effect("answers in the triage task's Schema, deterministically, with a confidence in [0, 1]", () =>
    Effect.gen(function*() {
      for (const { body, subject } of [...fixture, { type: "other" as const, subject: "hi", body: "" }]) {
        const first = yield* classify(subject, body)
        const second = yield* classify(subject, body)
        expect(JSON.stringify(second)).toBe(JSON.stringify(first))
        const { probabilities: _, ...answer } = first
        const decoded = Schema.decodeUnknownSync(TriageOutput)(answer)
        expect(decoded.confidence).toBeGreaterThanOrEqual(0)
        expect(decoded.confidence).toBeLessThanOrEqual(1)
        expect(first.confidence).toBe(Math.round(Math.max(...first.probabilities) * 100) / 100)
        expect(first.summary.length).toBeGreaterThan(0)
      }
    }))

  it.effect("explains the type with the probabilities and quotes only words of the message", () =>
    Effect.gen(function*() {
      const { body, subject } = fixture.find((message) => message.type === "billing")!
      const result = yield* classify(subject, body)
      const typeStep = result.reasoning.find((step) => step.step.startsWith("Type:"))!
      expect(typeStep.detail).toContain(`Classifier probability`)
      expect(typeStep.detail).toMatch(/subject [+−]\d/)
      const text = `${subject} ${body}`.toLowerCase()
      for (const step of result.reasoning) for (const word of step.evidence) expect(text).toContain(word)
      expect(result.reasoning.map((step) => step.step.split(":")[0])).toEqual([
        "Read the message",
        "Type",
        "Severity",
        "Confidence"
      ])
    }))

  it.effect("is mostly right on plain support messages, and not more confident than it is right", () =>
    Effect.gen(function*() {
      const results = yield* Effect.forEach(fixture, ({ body, subject }) => classify(subject, body))
      const correct = results.filter((result, i) => result.type === fixture[i]!.type).length / fixture.length
      const confidence = results.reduce((total, result) => total + result.confidence, 0) / results.length
      expect(correct).toBeGreaterThanOrEqual(5 / 7)
      // Calibrated on noisy GitHub labels, it is if anything under-confident on clear messages.
      expect(confidence).toBeLessThanOrEqual(correct + 0.1)
      // A message that says nothing gets a low confidence, so it goes to a person.
      expect((yield* classify("hello", "quick thing")).confidence).toBeLessThan(0.6)
    }))
})
