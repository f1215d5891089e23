/** The retrieval methods compared: each turns a question into scores for a product's chunks. */
import { createHash } from "node:crypto"

const tokens = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []

/**
 * The builtin provider's embedding before sentence embeddings (signed feature hashing of
 * words and word pairs, 384 dimensions), kept here verbatim so the baseline stays measurable.
 */
export const hashEmbedding = (text: string): Array<number> => {
  const dimensions = 384
  const vector = new Array<number>(dimensions).fill(0)
  const words = tokens(text)
  const features = [...words, ...words.slice(1).map((word, i) => `${words[i]} ${word}`)]
  for (const feature of features) {
    const digest = createHash("sha256").update(feature).digest()
    const index = digest.readUInt32BE(0) % dimensions
    vector[index]! += (digest[4]! & 1) === 0 ? 1 : -1
  }
  const norm = Math.sqrt(vector.reduce((total, value) => total + value * value, 0))
  return norm === 0 ? vector : vector.map((value) => value / norm)
}

export const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let total = 0
  for (let i = 0; i < a.length; i++) total += a[i]! * b[i]!
  return total
}

/**
 * Okapi BM25 over chunks (k1 1.2, b 0.75, the usual defaults): the lexical baseline, in memory,
 * standing in for PostgreSQL full-text ranking.
 */
export const bm25 = (documents: ReadonlyArray<string>) => {
  const k1 = 1.2
  const b = 0.75
  const termCounts = documents.map((text) => {
    const counts = new Map<string, number>()
    for (const token of tokens(text)) counts.set(token, (counts.get(token) ?? 0) + 1)
    return counts
  })
  const lengths = documents.map((text) => tokens(text).length)
  const averageLength = lengths.reduce((total, n) => total + n, 0) / Math.max(1, lengths.length)
  const documentFrequency = new Map<string, number>()
  for (const counts of termCounts) {
    for (const term of counts.keys()) documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1)
  }
  const idf = (term: string) => {
    const n = documentFrequency.get(term) ?? 0
    return Math.log(1 + (documents.length - n + 0.5) / (n + 0.5))
  }
  return (query: string): Array<number> => {
    const terms = [...new Set(tokens(query))]
    return termCounts.map((counts, i) => {
      let score = 0
      for (const term of terms) {
        const tf = counts.get(term) ?? 0
        if (tf === 0) continue
        score += idf(term) * (tf * (k1 + 1)) / (tf + k1 * (1 - b + b * lengths[i]! / averageLength))
      }
      return score
    })
  }
}

/** Article ids best first, an article scoring as its best chunk. */
export const rankArticles = (articleIds: ReadonlyArray<string>, chunkScores: ReadonlyArray<number>) => {
  const best = new Map<string, number>()
  chunkScores.forEach((score, i) => {
    const id = articleIds[i]!
    if (score > (best.get(id) ?? -Infinity)) best.set(id, score)
  })
  return [...best].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([id]) => id)
}

/** Reciprocal-rank fusion (Cormack et al. 2009): each list adds 1 / (k + rank). */
export const reciprocalRankFusion = (rankings: ReadonlyArray<ReadonlyArray<string>>, k = 60) => {
  const scores = new Map<string, number>()
  for (const ranking of rankings) {
    ranking.forEach((id, index) => scores.set(id, (scores.get(id) ?? 0) + 1 / (k + index + 1)))
  }
  return [...scores].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([id]) => id)
}
