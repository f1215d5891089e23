/**
 * The pipeline's second step: search the product's published articles and its other cases
 * (every channel, open and resolved) for what this case is about, store the best matches with
 * the reasoning, mark a likely duplicate, and decide where the case goes next:
 *
 * - `reply` when the best article scores at least the product's `matchMinSimilarity` (the
 *   auto_reply job is sent with the result);
 * - `change_prep` for a bug or incident that no article answers (the change_prep job is sent
 *   with the result);
 * - `human` otherwise (the case is put in front of a person: `needs_attention`).
 *
 * Searching and embedding happen outside any transaction; the result, the routing and the
 * timeline events are stored in one transaction keyed by the job, so a retried job adds nothing.
 */
import { LlmCallSite } from "@nestfleet/ai/Llm"
import { CasesRepo } from "@nestfleet/db/CasesRepo"
import { EmbeddingSpacesRepo } from "@nestfleet/db/EmbeddingSpacesRepo"
import { type CaseHit, MatchesRepo, type StoredMatch } from "@nestfleet/db/MatchesRepo"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { type CaseId, type CaseStatus, type CaseType, MatchEvidence, ReasoningStep, type RoutingDecision } from "@nestfleet/domain/Cases"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { AutoReplyJob, ChangePrepJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect, Option } from "effect"
import * as CaseText from "./CaseText.js"
import { Embeddings } from "./Embeddings.js"
import { type ArticleMatch, bestPerArticle, Knowledge } from "./Knowledge.js"
import * as MatchScore from "./MatchScore.js"
import { orDieUnexpected } from "./Unexpected.js"

/** Matches kept on a case, best first. */
export const maxMatches = 10
/**
 * Other cases kept at most: a case's score (how alike two reports read) runs higher than an
 * article's (whether a page answers), so without a cap similar cases would crowd out every
 * article.
 */
export const maxCaseMatches = 5
/** A case-match at least this likely to be the same issue marks the case a likely duplicate. */
export const likelyDuplicateScore = 0.9
const caseCandidates = 30

/** Statuses the routing may move to needs_attention; later ones belong to people and later steps. */
const routable: ReadonlySet<CaseStatus> = new Set(["new", "triaged", "needs_attention"])
const changeTypes: ReadonlySet<CaseType> = new Set(["bug", "incident"])

export interface Routing {
  readonly decision: RoutingDecision
  readonly reason: string
}

/** Where a case goes, from its type and its best article. */
export const route = (type: CaseType | null, bestArticle: number | null, threshold: number): Routing => {
  const best = bestArticle === null ? "no article matched" : `the best article scored ${bestArticle.toFixed(2)}`
  if (bestArticle !== null && bestArticle >= threshold) {
    return { decision: "reply", reason: `${best}, at least the product's threshold of ${threshold}` }
  }
  if (type !== null && changeTypes.has(type)) {
    return { decision: "change_prep", reason: `a ${type} that no article answers (${best}, below ${threshold})` }
  }
  return {
    decision: "human",
    reason: `${type === null ? "an untyped case" : `a ${type}`} that no article answers (${best}, below ${threshold})`
  }
}

const articleMatch = ({ item, similarity, words }: ArticleMatch): Omit<StoredMatch, "rank"> => ({
  kind: "article",
  articleId: item.articleId,
  title: item.title,
  url: item.url,
  score: item.score,
  snippet: item.snippet,
  evidence: new MatchEvidence({ meaning: similarity, words })
})

const caseMatch = (hit: CaseHit, model: MatchScore.ScoredModel | null): Omit<StoredMatch, "rank"> => ({
  kind: "case",
  caseId: hit.caseId,
  caseNumber: hit.number,
  title: hit.subject,
  score: MatchScore.score(hit, model),
  snippet: `#${hit.number} · ${hit.status}`,
  evidence: new MatchEvidence({ meaning: hit.similarity, words: null })
})

/**
 * Articles and at most `maxCaseMatches` cases in one list, each kind in the order its search
 * ranked it (articles by relevance, which weighs words and meaning better than any one score
 * does), the two merged by score: a case comes before the next article when it scores higher.
 */
export const rankMatches = (
  articles: ReadonlyArray<Omit<StoredMatch, "rank">>,
  cases: ReadonlyArray<Omit<StoredMatch, "rank">>
): Array<StoredMatch> => {
  const others = cases.slice(0, maxCaseMatches)
  const merged: Array<StoredMatch> = []
  let a = 0
  let c = 0
  while (merged.length < maxMatches && (a < articles.length || c < others.length)) {
    const takeCase = c < others.length && (a === articles.length || others[c]!.score > articles[a]!.score)
    merged.push({ ...(takeCase ? others[c++]! : articles[a++]!), rank: merged.length + 1 })
  }
  return merged
}

/** A match in the reasoning: what it is, its score, and what the score was made from. */
const describe = (match: StoredMatch) => {
  const evidence = [
    match.evidence?.meaning == null ? [] : [`meaning ${match.evidence.meaning.toFixed(2)}`],
    match.evidence?.words == null ? [] : [`words ${match.evidence.words.toFixed(2)}`]
  ].flat()
  const made = evidence.length === 0 ? "" : `: ${evidence.join(", ")}`
  return `${match.kind === "case" ? `case #${match.caseNumber}` : "article"} "${match.title}" (${match.score.toFixed(2)}${made})`
}

export class KnownIssueMatch extends Effect.Service<KnownIssueMatch>()("@nestfleet/core/KnownIssueMatch", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const cases = yield* CasesRepo
    const matches = yield* MatchesRepo
    const products = yield* ProductsRepo
    const spaces = yield* EmbeddingSpacesRepo
    const knowledge = yield* Knowledge
    const embeddings = yield* Embeddings
    const queue = yield* JobQueue

    /** The case's vector in the active space, stored when its text changed; none when no model is reachable. */
    const caseVector = (caseId: CaseId, text: string) =>
      Effect.gen(function*() {
        const vector = yield* embeddings.queryVector(text)
        if (Option.isNone(vector)) return vector
        const contentHash = CaseText.hash(text)
        const stored = yield* spaces.caseVectorHash(caseId, vector.value.spaceId)
        if (Option.getOrNull(stored) !== contentHash) {
          yield* spaces.upsertCaseVector({ caseId, spaceId: vector.value.spaceId, vector: vector.value.vector, contentHash })
        }
        return vector
      }).pipe(Effect.catchTags({
        LlmUnavailable: () => Effect.succeed(Option.none()),
        LlmTimedOut: () => Effect.succeed(Option.none())
      }))

    const run = Effect.fn("KnownIssueMatch.run")(function*(caseId: CaseId, jobId: string) {
      yield* Effect.annotateCurrentSpan({ "case.id": caseId })
      const found = yield* cases.findById(caseId)
      if (Option.isNone(found)) return yield* Effect.logWarning("KnownIssueMatch: the case no longer exists")
      const row = found.value
      const product = yield* Effect.flatten(products.findById(row.productId))
      const text = CaseText.forMatching(row, yield* cases.messagesOf(caseId))

      // Embedded once: the same vector searches the articles and the other cases.
      const vector = yield* caseVector(caseId, text)
      const passages = yield* knowledge.searchPassages(row.productId, { text, emphasis: row.subject }, vector)
      const articles = bestPerArticle(passages.hits, passages.model)
      const caseModel = Option.isSome(vector)
        ? yield* Effect.map(spaces.findById(vector.value.spaceId), Option.match({ onNone: () => null, onSome: MatchScore.caseModelOf }))
        : null
      const caseHits = yield* matches.similarCases({
        productId: row.productId,
        excludeCaseId: caseId,
        text,
        vector: Option.getOrNull(vector),
        candidates: caseCandidates
      })
      const ranked = rankMatches(
        articles.slice(0, maxMatches).map(articleMatch),
        caseHits.slice(0, maxMatches).map((hit) => caseMatch(hit, caseModel))
      )
      const bestArticle = articles.reduce<number | null>((best, match) => Math.max(best ?? 0, match.item.score), null)
      const bestCase = ranked.find((match) => match.kind === "case")
      const threshold = product.settings.matchMinSimilarity
      const routing = route(row.type, bestArticle, threshold)
      const reasoning = [
        new ReasoningStep({
          step: "Searched",
          detail: `The product's published articles (${passages.hits.length} passages found by ` +
            `${passages.model === null ? "words alone: no embedding model was reachable" : "meaning and words"}) ` +
            `and its other cases (${caseHits.length} found), for the case's subject and messages.`,
          evidence: [row.subject]
        }),
        new ReasoningStep({
          step: "Top candidates",
          detail: ranked.length === 0 ? "Nothing matched." : ranked.slice(0, 3).map(describe).join("; "),
          evidence: ranked.slice(0, 3).map((match) => match.snippet)
        }),
        new ReasoningStep({ step: `Decision: ${routing.decision}`, detail: routing.reason, evidence: [] })
      ]

      yield* transactions.withTransaction(Effect.gen(function*() {
        const current = yield* Effect.flatten(cases.lock(caseId))
        const stored = yield* matches.insertResult({ caseId, jobId, matches: ranked, reasoning, ...routing })
        if (Option.isNone(stored)) return yield* Effect.logInfo("KnownIssueMatch: this job already stored its result")
        const at = new Date(yield* Effect.clockWith((clock) => clock.currentTimeMillis)).toISOString()
        yield* matches.setRouting(caseId, { ...routing, at })
        const moved = routing.decision === "human" && routable.has(current.status) && current.status !== "needs_attention"
        if (moved) yield* cases.update({ id: caseId, status: "needs_attention" })
        yield* cases.insertEvent({
          caseId,
          kind: "matched",
          actorUserId: null,
          data: { matches: ranked.length, bestArticle, bestCase: bestCase?.score ?? null, threshold }
        })
        yield* cases.insertEvent({
          caseId,
          kind: "routed",
          actorUserId: null,
          data: { ...routing, ...(moved ? { status: { from: current.status, to: "needs_attention" } } : {}) }
        })
        if (routing.decision === "reply") yield* queue.send(AutoReplyJob, { caseId, reason: "matched" as const }).pipe(Effect.orDie)
        if (routing.decision === "change_prep") {
          yield* queue.send(ChangePrepJob, { caseId, reason: "routed" as const }).pipe(Effect.orDie)
        }
        if (bestCase !== undefined && bestCase.score >= likelyDuplicateScore && bestCase.caseId !== undefined) {
          const suggested = yield* matches.suggestDuplicate(caseId, bestCase.caseId, bestCase.score)
          if (suggested) {
            yield* cases.insertEvent({
              caseId,
              kind: "duplicate_suggested",
              actorUserId: null,
              data: { of: bestCase.caseId, caseNumber: bestCase.caseNumber, score: bestCase.score }
            })
          }
        }
      }))
    }, (effect, caseId) => Effect.provideService(effect, LlmCallSite, { caseId: caseId, step: "known_issue_match" }), orDieUnexpected)

    return { run } as const
  }),
  dependencies: [
    Transactions.Default,
    CasesRepo.Default,
    MatchesRepo.Default,
    ProductsRepo.Default,
    EmbeddingSpacesRepo.Default,
    Knowledge.Default,
    Embeddings.Default
  ]
}) {}
