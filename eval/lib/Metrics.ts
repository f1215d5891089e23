/**
 * Evaluation metrics as small pure functions, shared by the eval tools.
 *
 * Classification: `accuracy`, `confusion`, `perClass`, `macroF1` over parallel arrays of gold
 * and predicted labels. Calibration: `calibrationBins` and `ece` (expected calibration error)
 * over (confidence, correct) pairs. Ranking: `recallAtK` and `mrr` over queries, each a ranked
 * list of ids and the set of relevant ids.
 *
 * Conventions: a ratio whose denominator is zero is NaN when the whole metric is undefined
 * (e.g. the accuracy of nothing) and 0 inside a per-class table (a class never predicted has
 * precision 0), the usual scikit-learn behaviour. Arrays that must be parallel are checked.
 */

const sameLength = (what: string, a: ReadonlyArray<unknown>, b: ReadonlyArray<unknown>) => {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} gold labels but ${b.length} predictions`)
}

const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den)

/** Share of predictions equal to the gold label; NaN for no items. */
export const accuracy = <L>(gold: ReadonlyArray<L>, predicted: ReadonlyArray<L>): number => {
  sameLength("accuracy", gold, predicted)
  if (gold.length === 0) return Number.NaN
  let hits = 0
  gold.forEach((g, i) => {
    if (predicted[i] === g) hits++
  })
  return hits / gold.length
}

/** A confusion table: `counts[i][j]` is how many items of gold label `labels[i]` were predicted `labels[j]`. */
export interface Confusion<L> {
  readonly labels: ReadonlyArray<L>
  readonly counts: ReadonlyArray<ReadonlyArray<number>>
}

/**
 * The confusion table over `labels` (default: every label seen in gold or predictions, in
 * order of first appearance). Items whose gold or predicted label is not in `labels` are left out.
 */
export const confusion = <L>(gold: ReadonlyArray<L>, predicted: ReadonlyArray<L>, labels?: ReadonlyArray<L>): Confusion<L> => {
  sameLength("confusion", gold, predicted)
  const order = labels ?? [...new Set([...gold, ...predicted])]
  const index = new Map(order.map((l, i) => [l, i] as const))
  const counts = order.map(() => order.map(() => 0))
  gold.forEach((g, k) => {
    const i = index.get(g)
    const j = index.get(predicted[k]!)
    if (i !== undefined && j !== undefined) counts[i]![j]!++
  })
  return { labels: order, counts }
}

export interface ClassScores<L> {
  readonly label: L
  /** Items with this gold label. */
  readonly support: number
  /** Items predicted with this label. */
  readonly predicted: number
  readonly precision: number
  readonly recall: number
  readonly f1: number
}

/** Precision, recall and F1 of each label of a confusion table (0 where a denominator is 0). */
export const perClass = <L>(table: Confusion<L>): ReadonlyArray<ClassScores<L>> =>
  table.labels.map((label, i) => {
    const tp = table.counts[i]![i]!
    const support = table.counts[i]!.reduce((a, b) => a + b, 0)
    const predicted = table.counts.reduce((a, row) => a + row[i]!, 0)
    const precision = ratio(tp, predicted)
    const recall = ratio(tp, support)
    return { label, support, predicted, precision, recall, f1: ratio(2 * precision * recall, precision + recall) }
  })

/**
 * Unweighted mean F1 over the labels present in gold (a label only ever predicted, never
 * true, still costs precision of the labels it was confused with, but is not averaged in).
 * NaN for no items.
 */
export const macroF1 = <L>(gold: ReadonlyArray<L>, predicted: ReadonlyArray<L>): number => {
  sameLength("macroF1", gold, predicted)
  if (gold.length === 0) return Number.NaN
  const present = [...new Set(gold)]
  const labels = [...present, ...[...new Set(predicted)].filter((l) => !present.includes(l))]
  const scores = perClass(confusion(gold, predicted, labels)).filter((s) => s.support > 0)
  return scores.reduce((a, s) => a + s.f1, 0) / scores.length
}

export interface CalibrationBin {
  /** Inclusive lower edge. */
  readonly from: number
  /** Exclusive upper edge (the last bin includes 1). */
  readonly to: number
  readonly count: number
  /** Mean confidence in the bin (NaN when empty). */
  readonly confidence: number
  /** Share correct in the bin (NaN when empty). */
  readonly accuracy: number
}

/** Equal-width confidence bins over [0, 1]; confidences outside [0, 1] are clamped. */
export const calibrationBins = (
  confidences: ReadonlyArray<number>,
  correct: ReadonlyArray<boolean>,
  bins = 10
): ReadonlyArray<CalibrationBin> => {
  sameLength("calibrationBins", confidences, correct)
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`calibrationBins: bins must be a positive integer, got ${bins}`)
  const sums = Array.from({ length: bins }, () => ({ count: 0, confidence: 0, correct: 0 }))
  confidences.forEach((c, i) => {
    const clamped = Math.min(1, Math.max(0, c))
    const bin = sums[Math.min(bins - 1, Math.floor(clamped * bins))]!
    bin.count++
    bin.confidence += clamped
    if (correct[i]) bin.correct++
  })
  return sums.map((s, b) => ({
    from: b / bins,
    to: (b + 1) / bins,
    count: s.count,
    confidence: s.count === 0 ? Number.NaN : s.confidence / s.count,
    accuracy: s.count === 0 ? Number.NaN : s.correct / s.count
  }))
}

/**
 * Expected calibration error: the count-weighted mean, over equal-width bins, of
 * |accuracy − mean confidence|. 0 is perfectly calibrated. NaN for no items.
 */
export const ece = (confidences: ReadonlyArray<number>, correct: ReadonlyArray<boolean>, bins = 10): number => {
  const table = calibrationBins(confidences, correct, bins)
  const n = confidences.length
  if (n === 0) return Number.NaN
  return table.reduce((a, b) => (b.count === 0 ? a : a + (b.count / n) * Math.abs(b.accuracy - b.confidence)), 0)
}

/** One retrieval query: ids in ranked order, and the ids that count as relevant. */
export interface RankedQuery<Id> {
  readonly ranked: ReadonlyArray<Id>
  readonly relevant: ReadonlyArray<Id>
}

/**
 * Mean over queries of the share of a query's relevant ids found in its top `k`. Queries
 * with no relevant ids are skipped; NaN when no query is left.
 */
export const recallAtK = <Id>(queries: ReadonlyArray<RankedQuery<Id>>, k: number): number => {
  if (!Number.isInteger(k) || k < 1) throw new Error(`recallAtK: k must be a positive integer, got ${k}`)
  const scored = queries.filter((q) => q.relevant.length > 0)
  if (scored.length === 0) return Number.NaN
  const total = scored.reduce((a, q) => {
    const relevant = new Set(q.relevant)
    const found = new Set(q.ranked.slice(0, k).filter((id) => relevant.has(id)))
    return a + found.size / relevant.size
  }, 0)
  return total / scored.length
}

/** 1 / rank of the first relevant id (ranks start at 1), or 0 when none is ranked. */
export const reciprocalRank = <Id>(query: RankedQuery<Id>): number => {
  const relevant = new Set(query.relevant)
  const index = query.ranked.findIndex((id) => relevant.has(id))
  return index === -1 ? 0 : 1 / (index + 1)
}

/** Mean reciprocal rank over queries with at least one relevant id; NaN when there are none. */
export const mrr = <Id>(queries: ReadonlyArray<RankedQuery<Id>>): number => {
  const scored = queries.filter((q) => q.relevant.length > 0)
  if (scored.length === 0) return Number.NaN
  return scored.reduce((a, q) => a + reciprocalRank(q), 0) / scored.length
}
