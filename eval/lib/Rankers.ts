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

// ---------------------------------------------------------------------------------------------
// Variants for the recipe search (`compare-embeddings.ts --recipes`): lexical rankers closer to
// what PostgreSQL full text does, passage-level fusion as the product runs it, score fusion.

/**
 * Porter's stemmer (1980), the usual JavaScript rendering: a stand-in for the Snowball English
 * stemmer of PostgreSQL's `english` configuration (Porter2; they agree on most words).
 */
const step2list: Record<string, string> = {
  ational: "ate", tional: "tion", enci: "ence", anci: "ance", izer: "ize", bli: "ble", alli: "al", entli: "ent",
  eli: "e", ousli: "ous", ization: "ize", ation: "ate", ator: "ate", alism: "al", iveness: "ive", fulness: "ful",
  ousness: "ous", aliti: "al", iviti: "ive", biliti: "ble", logi: "log"
}
const step3list: Record<string, string> = { icate: "ic", ative: "", alize: "al", iciti: "ic", ical: "ic", ful: "", ness: "" }
const cons = "[^aeiou]"
const vowel = "[aeiouy]"
const consSeq = cons + "[^aeiouy]*"
const vowelSeq = vowel + "[aeiou]*"
const mgr0 = new RegExp("^(" + consSeq + ")?" + vowelSeq + consSeq)
const meq1 = new RegExp("^(" + consSeq + ")?" + vowelSeq + consSeq + "(" + vowelSeq + ")?$")
const mgr1 = new RegExp("^(" + consSeq + ")?" + vowelSeq + consSeq + vowelSeq + consSeq)
const sv = new RegExp("^(" + consSeq + ")?" + vowel)
const cvc = new RegExp("^" + consSeq + vowel + "[^aeiouwxy]$")

export const porterStem = (word: string): string => {
  if (word.length < 3 || /\d/.test(word)) return word
  let w = word
  const firstY = w[0] === "y"
  if (firstY) w = "Y" + w.slice(1)
  let m: RegExpExecArray | null
  if ((m = /^(.+?)(ss|i)es$/.exec(w))) w = m[1]! + m[2]!
  else if ((m = /^(.+?)([^s])s$/.exec(w))) w = m[1]! + m[2]!
  if ((m = /^(.+?)eed$/.exec(w))) {
    if (mgr0.test(m[1]!)) w = w.slice(0, -1)
  } else if ((m = /^(.+?)(ed|ing)$/.exec(w))) {
    const stem = m[1]!
    if (sv.test(stem)) {
      w = stem
      if (/(at|bl|iz)$/.test(w)) w = w + "e"
      else if (/([^aeiouylsz])\1$/.test(w)) w = w.slice(0, -1)
      else if (cvc.test(w)) w = w + "e"
    }
  }
  if ((m = /^(.+?)y$/.exec(w)) && sv.test(m[1]!)) w = m[1]! + "i"
  if ((m = /^(.+?)(ational|tional|enci|anci|izer|bli|alli|entli|eli|ousli|ization|ation|ator|alism|iveness|fulness|ousness|aliti|iviti|biliti|logi)$/.exec(w))) {
    if (mgr0.test(m[1]!)) w = m[1]! + step2list[m[2]!]!
  }
  if ((m = /^(.+?)(icate|ative|alize|iciti|ical|ful|ness)$/.exec(w))) {
    if (mgr0.test(m[1]!)) w = m[1]! + step3list[m[2]!]!
  }
  if ((m = /^(.+?)(al|ance|ence|er|ic|able|ible|ant|ement|ment|ent|ou|ism|ate|iti|ous|ive|ize)$/.exec(w))) {
    if (mgr1.test(m[1]!)) w = m[1]!
  } else if ((m = /^(.+?)(s|t)(ion)$/.exec(w))) {
    if (mgr1.test(m[1]! + m[2]!)) w = m[1]! + m[2]!
  }
  if ((m = /^(.+?)e$/.exec(w))) {
    const stem = m[1]!
    if (mgr1.test(stem) || (meq1.test(stem) && !cvc.test(stem))) w = stem
  }
  if (/ll$/.test(w) && mgr1.test(w)) w = w.slice(0, -1)
  if (firstY) w = "y" + w.slice(1)
  return w
}

/** PostgreSQL's `english` stop words (Snowball's english.stop). */
export const englishStopWords = new Set(
  ("i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself " +
    "it its itself they them their theirs themselves what which who whom this that these those am is are was were be " +
    "been being have has had having do does did doing a an the and but if or because as until while of at by for with " +
    "about against between into through during before after above below to from up down in out on off over under again " +
    "further then once here there when where why how all any both each few more most other some such no nor not only own " +
    "same so than too very s t can will just don should now").split(" ")
)

export interface LexemeOptions {
  /** Porter-stem each word (PostgreSQL `english` stems). */
  readonly stem: boolean
  /** Leave out English stop words (PostgreSQL `english` does). */
  readonly stop: boolean
}

export const lexemes = (text: string, options: LexemeOptions): Array<string> => {
  const words = tokens(text)
  const kept = options.stop ? words.filter((w) => !englishStopWords.has(w)) : words
  return options.stem ? kept.map(porterStem) : kept
}

/** A passage for lexical ranking: its heading (title and section path) and its body, separately weighted. */
export interface Fielded {
  readonly heading: string
  readonly body: string
}

export interface Bm25Options extends LexemeOptions {
  readonly k1?: number
  readonly b?: number
  /** Each heading occurrence counts this many times (1 = heading and body alike, like `setweight` A vs D). */
  readonly headingWeight: number
  /** Search only the query's first this many distinct lexemes (after `exclude`), as the product's `maxQueryWords`. */
  readonly maxQueryTerms?: number
  /** Lexemes left out of the query (the product's `commonLexemes`). */
  readonly exclude?: ReadonlySet<string>
  /**
   * Only passages holding one of the query's rarest terms are scored (the others score 0):
   * terms taken rarest first while their passage counts add up to at most this (the rarest
   * always), as a search bounding the passages it ranks would.
   */
  readonly selectionBudget?: number
}

/** BM25 over fielded passages (BM25F-lite: a heading term counts `headingWeight` times). */
export const bm25Fielded = (documents: ReadonlyArray<Fielded>, options: Bm25Options) => {
  const k1 = options.k1 ?? 1.2
  const b = options.b ?? 0.75
  const termCounts = documents.map((doc) => {
    const counts = new Map<string, number>()
    for (const t of lexemes(doc.heading, options)) counts.set(t, (counts.get(t) ?? 0) + options.headingWeight)
    for (const t of lexemes(doc.body, options)) counts.set(t, (counts.get(t) ?? 0) + 1)
    return counts
  })
  const lengths = termCounts.map((counts) => [...counts.values()].reduce((a, n) => a + n, 0))
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
    const terms = [...new Set(lexemes(query, options))]
      .filter((term) => !(options.exclude?.has(term) ?? false))
      .slice(0, options.maxQueryTerms ?? Infinity)
    const selecting = new Set<string>()
    if (options.selectionBudget !== undefined) {
      let spent = 0
      for (const term of [...terms].sort((x, y) => (documentFrequency.get(x) ?? 0) - (documentFrequency.get(y) ?? 0))) {
        const n = documentFrequency.get(term) ?? 0
        if (n === 0) continue
        if (selecting.size > 0 && spent + n > options.selectionBudget) break
        selecting.add(term)
        spent += n
      }
    }
    return termCounts.map((counts, i) => {
      if (options.selectionBudget !== undefined && ![...selecting].some((term) => counts.has(term))) return 0
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

export interface PgRankOptions {
  /** Lexemes in more passages than this (over the whole corpus) are left out of the query, as `commonLexemes` does. */
  readonly commonPassages: number
  /** The first this many distinct query lexemes are searched (`maxQueryWords`). */
  readonly maxQueryWords: number
  /** ts_rank_cd's weights for labels A (heading) and D (body): PostgreSQL's defaults are 1.0 and 0.1. */
  readonly weightA: number
  readonly weightD: number
  /** ts_rank_cd normalization 1: divide by 1 + log(passage length). */
  readonly logLength: boolean
  /** Multiply each query lexeme's contribution by its idf (not what ts_rank_cd does; what it would take in SQL: a lexeme statistics table). */
  readonly idf: boolean
}

/**
 * What the product's lexical half computes: `ts_rank_cd(setweight(heading, 'A') || body, q)`
 * with `q` the OR of the query's first `maxQueryWords` uncommon lexemes. For an OR query every
 * matching position is its own cover of length one, worth its label's weight, so the rank is
 * the sum over matches of weightA (heading) or weightD (body), without idf or length
 * normalisation (normalization 0). Passages matching no lexeme score 0 (not found).
 * `corpusLexemeDf` is the number of passages of the whole corpus holding each lexeme.
 */
export const pgRank = (
  documents: ReadonlyArray<Fielded>,
  corpusLexemeDf: ReadonlyMap<string, number>,
  corpusSize: number,
  options: PgRankOptions
) => {
  const opts = { stem: true, stop: true }
  const docs = documents.map((doc) => {
    const heading = new Map<string, number>()
    const body = new Map<string, number>()
    const h = lexemes(doc.heading, opts)
    const t = lexemes(doc.body, opts)
    for (const x of h) heading.set(x, (heading.get(x) ?? 0) + 1)
    for (const x of t) body.set(x, (body.get(x) ?? 0) + 1)
    return { heading, body, length: h.length + t.length }
  })
  return (query: string): Array<number> => {
    const terms = [...new Set(lexemes(query, opts))]
      .filter((term) => (corpusLexemeDf.get(term) ?? 0) <= options.commonPassages)
      .slice(0, options.maxQueryWords)
    return docs.map((doc) => {
      let score = 0
      for (const term of terms) {
        const raw = options.weightA * (doc.heading.get(term) ?? 0) + options.weightD * (doc.body.get(term) ?? 0)
        if (raw === 0) continue
        const n = corpusLexemeDf.get(term) ?? 0
        score += options.idf ? raw * Math.log(1 + (corpusSize - n + 0.5) / (n + 0.5)) : raw
      }
      return options.logLength && score > 0 ? score / (1 + Math.log(1 + doc.length)) : score
    })
  }
}

/** Passages of the corpus holding each lexeme (stemmed, stop words left out), for `pgRank`. */
export const lexemeDocumentFrequency = (documents: ReadonlyArray<Fielded>) => {
  const df = new Map<string, number>()
  for (const doc of documents) {
    for (const term of new Set(lexemes(`${doc.heading} ${doc.body}`, { stem: true, stop: true }))) {
      df.set(term, (df.get(term) ?? 0) + 1)
    }
  }
  return df
}

/** Article ids best first, an article scoring as its best chunk plus `second` times its second best. */
export const rankArticlesBy = (
  articleIds: ReadonlyArray<string>,
  chunkScores: ReadonlyArray<number>,
  second = 0
): Array<string> => {
  if (second === 0) return rankArticles(articleIds, chunkScores)
  const top = new Map<string, [number, number]>()
  chunkScores.forEach((score, i) => {
    const id = articleIds[i]!
    const entry = top.get(id) ?? [-Infinity, -Infinity]
    if (score > entry[0]) top.set(id, [score, entry[0]])
    else if (score > entry[1]) top.set(id, [entry[0], score])
    else top.set(id, entry)
  })
  const total = (e: [number, number]) => e[0] + (Number.isFinite(e[1]) ? second * e[1] : 0)
  return [...top].sort((x, y) => total(y[1]) - total(x[1]) || x[0].localeCompare(y[0])).map(([id]) => id)
}

/** Indices of the `n` best scores (score > `floor`), best first. */
export const topIndices = (scores: ReadonlyArray<number>, n: number, floor = -Infinity): Array<number> =>
  scores.flatMap((s, i) => s > floor ? [i] : []).sort((x, y) => scores[y]! - scores[x]! || x - y).slice(0, n)

export interface PassageList {
  /** Chunk indices best first (already cut to the list's candidates). */
  readonly ranked: ReadonlyArray<number>
  readonly weight: number
}

/**
 * What the product does: reciprocal-rank fusion of passage lists (each cut to its candidates),
 * then articles by their passages' fused scores (best, plus `second` times the second best).
 */
export const fusePassages = (
  articleIds: ReadonlyArray<string>,
  lists: ReadonlyArray<PassageList>,
  k: number,
  second = 0
): Array<string> => {
  const fused = new Map<number, number>()
  for (const list of lists) {
    list.ranked.forEach((chunk, rank) => fused.set(chunk, (fused.get(chunk) ?? 0) + list.weight / (k + rank + 1)))
  }
  const ids = [...fused.keys()].map((i) => articleIds[i]!)
  return rankArticlesBy(ids, [...fused.values()], second)
}

/** Weighted reciprocal-rank fusion of article rankings (each cut to its first `depth`). */
export const weightedRrf = (
  rankings: ReadonlyArray<{ readonly ranking: ReadonlyArray<string>; readonly weight: number }>,
  k: number,
  depth = Infinity
) => {
  const scores = new Map<string, number>()
  for (const { ranking, weight } of rankings) {
    ranking.slice(0, depth).forEach((id, index) => scores.set(id, (scores.get(id) ?? 0) + weight / (k + index + 1)))
  }
  return [...scores].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([id]) => id)
}
