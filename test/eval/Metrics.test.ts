/**
 * The eval metrics (eval/lib/Metrics.ts) against hand-computed values.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  accuracy,
  calibrationBins,
  confusion,
  ece,
  macroF1,
  mrr,
  perClass,
  reciprocalRank,
  recallAtK
} from "../../eval/lib/Metrics.js"

// gold a a a b b c ; predicted a a b b c c
const gold = ["a", "a", "a", "b", "b", "c"]
const predicted = ["a", "a", "b", "b", "c", "c"]

describe("accuracy", () => {
  it("is the share of exact matches", () => {
    expect(accuracy(gold, predicted)).toBeCloseTo(4 / 6)
    expect(accuracy(["x"], ["x"])).toBe(1)
  })
  it("is NaN for no items and rejects arrays of different lengths", () => {
    expect(accuracy([], [])).toBeNaN()
    expect(() => accuracy(["a"], [])).toThrow(/1 gold labels but 0 predictions/)
  })
})

describe("confusion and perClass", () => {
  it("counts gold rows against predicted columns", () => {
    const table = confusion(gold, predicted, ["a", "b", "c"])
    expect(table.counts).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1]
    ])
  })
  it("defaults to labels in order of first appearance and drops labels not asked for", () => {
    expect(confusion(["b", "a"], ["c", "a"]).labels).toEqual(["b", "a", "c"])
    expect(confusion(["a", "z"], ["a", "a"], ["a"]).counts).toEqual([[1]])
  })
  it("gives precision, recall and F1 per label, 0 where nothing was predicted", () => {
    const scores = perClass(confusion(gold, predicted, ["a", "b", "c", "d"]))
    const a = scores[0]!
    expect(a).toMatchObject({ label: "a", support: 3, predicted: 2, precision: 1 })
    expect(a.recall).toBeCloseTo(2 / 3)
    expect(a.f1).toBeCloseTo(0.8)
    const b = scores[1]!
    expect(b.precision).toBeCloseTo(0.5)
    expect(b.recall).toBeCloseTo(0.5)
    expect(scores[2]).toMatchObject({ label: "c", precision: 0.5, recall: 1 })
    expect(scores[3]).toMatchObject({ label: "d", support: 0, predicted: 0, precision: 0, recall: 0, f1: 0 })
  })
})

describe("macroF1", () => {
  it("averages F1 over the labels present in gold", () => {
    // F1: a = 0.8, b = 0.5, c = 2/3
    expect(macroF1(gold, predicted)).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3)
  })
  it("does not average in a label that is only predicted, but it costs the others", () => {
    // gold a a; predicted a z -> a: precision 1, recall 1/2, F1 2/3; z is not averaged in
    expect(macroF1(["a", "a"], ["a", "z"])).toBeCloseTo(2 / 3)
  })
  it("is 1 for a perfect prediction and NaN for no items", () => {
    expect(macroF1(gold, gold)).toBe(1)
    expect(macroF1([], [])).toBeNaN()
  })
})

describe("calibration", () => {
  it("bins confidences in tenths, the last bin including 1", () => {
    const bins = calibrationBins([0.05, 0.15, 0.95, 1, 1.2, -0.1], [true, false, true, false, true, true])
    expect(bins).toHaveLength(10)
    expect(bins[0]).toMatchObject({ from: 0, count: 2, accuracy: 1 })
    expect(bins[1]).toMatchObject({ count: 1, accuracy: 0 })
    expect(bins[9]).toMatchObject({ count: 3 })
    expect(bins[9]!.accuracy).toBeCloseTo(2 / 3)
    expect(bins[5]!.count).toBe(0)
    expect(bins[5]!.accuracy).toBeNaN()
  })
  it("ECE is the count-weighted gap between accuracy and confidence", () => {
    // bin 0.8-0.9: two items at 0.8, one right -> |0.5 - 0.8| = 0.3, weight 2/4
    // bin 0.9-1.0: two items at 1.0, both right -> 0, weight 2/4
    expect(ece([0.8, 0.8, 1, 1], [true, false, true, true])).toBeCloseTo(0.15)
  })
  it("ECE is 0 when confidence matches accuracy, NaN for no items", () => {
    expect(ece([0.5, 0.5], [true, false])).toBeCloseTo(0)
    expect(ece([], [])).toBeNaN()
    expect(() => ece([0.5], [true], 0)).toThrow(/positive integer/)
  })
})

describe("ranking", () => {
  const queries = [
    { ranked: ["x", "y", "z"], relevant: ["y"] },
    { ranked: ["p", "q", "r"], relevant: ["p", "r"] },
    { ranked: ["m", "n"], relevant: ["o"] }
  ]
  it("recall@k is the mean share of relevant ids in the top k", () => {
    expect(recallAtK(queries, 1)).toBeCloseTo((0 + 0.5 + 0) / 3)
    expect(recallAtK(queries, 3)).toBeCloseTo((1 + 1 + 0) / 3)
  })
  it("MRR is the mean of 1 / rank of the first relevant id", () => {
    expect(reciprocalRank(queries[0]!)).toBeCloseTo(0.5)
    expect(reciprocalRank(queries[2]!)).toBe(0)
    expect(mrr(queries)).toBeCloseTo((0.5 + 1 + 0) / 3)
  })
  it("skips queries without relevant ids and rejects k < 1", () => {
    expect(mrr([{ ranked: ["a"], relevant: [] }, { ranked: ["a"], relevant: ["a"] }])).toBe(1)
    expect(mrr([])).toBeNaN()
    expect(recallAtK([{ ranked: ["a"], relevant: [] }], 1)).toBeNaN()
    expect(() => recallAtK(queries, 0)).toThrow(/positive integer/)
  })
})
