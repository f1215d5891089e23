/**
 * What a match's `score` means: about the probability, from 0 to 1, that the passage (or
 * case) answers the query — the same scale whatever the embedding model, so a product's
 * `matchMinSimilarity` (0.8 by default) reads as "at least 4 in 5 such matches are right"
 * with either provider.
 *
 * Cosine similarities are not comparable across models (one model's unrelated pairs sit at
 * 0.1, another's at 0.6), so each model's similarity goes through a logistic curve fitted
 * for it: `1 / (1 + e^(-slope · (cosine − midpoint)))`. The builtin model's curve is fitted on
 * the retrieval dev set (`eval/retrieval`, `pnpm eval retrieval --calibrate`); models not
 * listed take a curve for modern API embedding models, whose related pairs sit above about 0.5.
 */
import type { EmbeddingSpaceRow } from "@nestfleet/db/EmbeddingSpacesRepo"

export interface Curve {
  readonly midpoint: number
  readonly slope: number
}

export interface ScoredModel {
  readonly provider: string
  readonly model: string
  readonly curve: Curve
}

/** Fitted curves, by model name. */
export const curves: Readonly<Record<string, Curve>> = {
  "builtin-hashing-384": { midpoint: 0.35, slope: 10 },
  "builtin-use-lite-512": { midpoint: 0.55, slope: 12 }
}

export const defaultCurve: Curve = { midpoint: 0.5, slope: 12 }

export const modelOf = (space: Pick<EmbeddingSpaceRow, "provider" | "model">): ScoredModel => ({
  provider: space.provider,
  model: space.model,
  curve: curves[space.model] ?? defaultCurve
})

export const calibrate = (cosine: number, curve: Curve) => 1 / (1 + Math.exp(-curve.slope * (cosine - curve.midpoint)))

/**
 * A hit's score: its similarity through its model's curve, rounded to 4 places. A hit found by
 * words alone (no vector for it, or no model reachable) scores 0: words say it may be related,
 * not that it answers — such hits are listed, never acted on.
 */
export const score = (hit: { readonly similarity: number | null }, model: ScoredModel | null) =>
  hit.similarity === null || model === null ? 0 : Math.round(calibrate(hit.similarity, model.curve) * 10_000) / 10_000
