/**
 * What a match's `score` means: about the probability, from 0 to 1, that the passage (or
 * case) answers the query — the same scale whatever the embedding model, so a product's
 * `matchMinSimilarity` (0.8 by default) reads as "at least 4 in 5 such matches are right"
 * with either provider.
 *
 * Cosine similarities are not comparable across models (one model's unrelated pairs sit at
 * 0.1, another's at 0.6), so each model's similarity goes through a logistic curve fitted
 * for it, together with how much of the query's words the passage holds (`words`, 0 to 1):
 * `1 / (1 + e^(-(slope · (cosine − midpoint) + words · share)))`. The builtin model's curve is
 * fitted on the retrieval dev set (`eval/retrieval`, `pnpm eval retrieval --calibrate`);
 * models not listed take a curve for modern API embedding models, whose related pairs sit
 * above about 0.5, on meaning alone.
 */
import type { EmbeddingSpaceRow } from "@nestfleet/db/EmbeddingSpacesRepo"

export interface Curve {
  readonly midpoint: number
  readonly slope: number
  /** How much the share of the query's words a passage holds adds to the logit (0: meaning alone). */
  readonly words: number
}

export interface ScoredModel {
  readonly provider: string
  readonly model: string
  readonly curve: Curve
}

/**
 * Fitted curves, by model name.
 *
 * builtin (USE-lite): fitted by `pnpm eval retrieval … --split dev --calibrate` on the
 * article matches listed for 53 real questions (345 pairs, 12.8% of the top five the page the
 * answerer linked). Cosine and words each tell right from wrong passages only weakly, so the
 * curve is flat and low: the best matches score about 0.3, and the default
 * `matchMinSimilarity` (0.8) is never reached — with the builtin model a case goes to a person
 * or to change-prep, never to an automatic reply, unless an admin lowers the threshold
 * knowingly. (The first curve, midpoint 0.55 and slope 12 on the cosine alone, was a guess: its
 * scores averaged 0.95 where 6% answered.) Only the linked page counts as answering, so these
 * probabilities are lower bounds.
 */
export const curves: Readonly<Record<string, Curve>> = {
  "builtin-use-lite-512": { midpoint: 1.774, slope: 2.317, words: 2.044 }
}

export const defaultCurve: Curve = { midpoint: 0.5, slope: 12, words: 0 }

/**
 * Curves for a case matched to another case, by model name: how alike two customers' messages
 * read, which is another question than whether a passage answers one — two reports of one
 * problem sit far higher than a question and its docs page. Not fitted yet (no labelled
 * duplicates): a likely duplicate (score ≥ 0.9) needs a builtin cosine of about 0.73.
 */
export const caseCurves: Readonly<Record<string, Curve>> = {
  "builtin-use-lite-512": { midpoint: 0.55, slope: 12, words: 0 }
}

/** The scoring of passages found in a space of this model. */
export const modelOf = (space: Pick<EmbeddingSpaceRow, "provider" | "model">): ScoredModel => ({
  provider: space.provider,
  model: space.model,
  curve: curves[space.model] ?? defaultCurve
})

/** The scoring of other cases found in a space of this model. */
export const caseModelOf = (space: Pick<EmbeddingSpaceRow, "provider" | "model">): ScoredModel => ({
  provider: space.provider,
  model: space.model,
  curve: caseCurves[space.model] ?? defaultCurve
})

export const calibrate = (cosine: number, words: number, curve: Curve) =>
  1 / (1 + Math.exp(-(curve.slope * (cosine - curve.midpoint) + curve.words * words)))

/**
 * A hit's score: its similarity and words through its model's curve, rounded to 4 places. A
 * hit without a similarity (no vector for it, or no model reachable) scores 0: words alone say
 * it may be related, not that it answers — such hits are listed, never acted on.
 */
export const score = (
  hit: { readonly similarity: number | null; readonly words?: number | undefined },
  model: ScoredModel | null
) =>
  hit.similarity === null || model === null
    ? 0
    : Math.round(calibrate(hit.similarity, hit.words ?? 0, model.curve) * 10_000) / 10_000
