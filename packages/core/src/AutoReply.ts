/**
 * The pipeline's reply step: a draft answer grounded in the case's matched articles.
 *
 * The sources are the most relevant passages of the best matched articles (those scoring at
 * least the product's `matchMinSimilarity`; any of the best, when a person asked for a draft),
 * numbered; the model (the `reply` task: builtin quotes them, a chat model writes from them)
 * cites them as `[n]`. The guard (ReplyGuard) refuses a draft that is empty, cites nothing or
 * cites what was not retrieved: it is kept as `rejected` and the case goes to a person. A
 * draft that passes is wrapped in the product's greeting and closing with its sources listed,
 * and is approved at once or waits for an agent by the product's policy (ReplyPolicy).
 *
 * Searching and the model call happen outside any transaction; the version, the case's status
 * and the timeline are written in one transaction keyed by the job, so a retry adds nothing.
 */
import * as ReplyTask from "@nestfleet/ai/ReplyTask"
import { Llm, LlmCallSite } from "@nestfleet/ai/Llm"
import { CasesRepo, type MessageRow } from "@nestfleet/db/CasesRepo"
import { DraftsRepo } from "@nestfleet/db/DraftsRepo"
import { EmbeddingSpacesRepo } from "@nestfleet/db/EmbeddingSpacesRepo"
import type { PassageHit } from "@nestfleet/db/KnowledgeRepo"
import { MatchesRepo } from "@nestfleet/db/MatchesRepo"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { type CaseId, type CaseMatch, type CaseStatus, ReasoningStep } from "@nestfleet/domain/Cases"
import { Citation, DraftAuthor, type DraftStatus } from "@nestfleet/domain/Drafts"
import type { ArticleId } from "@nestfleet/domain/Knowledge"
import type { ProductSettings } from "@nestfleet/domain/Products"
import { Effect, Either, Option } from "effect"
import * as CaseText from "./CaseText.js"
import { awaitable } from "./Drafts.js"
import { Knowledge, relevanceOf } from "./Knowledge.js"
import * as ReplyGuard from "./ReplyGuard.js"
import { ReplyOutbox } from "./ReplyOutbox.js"
import * as ReplyPolicy from "./ReplyPolicy.js"
import { orDieUnexpected } from "./Unexpected.js"

/** Articles a draft draws on at most. */
export const maxSourceArticles = 3
/** Passages of one article given to the model at most. */
export const passagesPerArticle = 2
/** The conversation given to the model: its newest messages, this many characters at most. */
const maxConversationCharacters = 8000

/** Why a draft is written: the match step routed the case to `reply`, or a person asked. */
export type DraftReason = "matched" | "requested"

/** Statuses a refused draft moves the case to `needs_attention` from. */
const attendable: ReadonlySet<CaseStatus> = new Set(["new", "triaged", "awaiting_approval", "replied"])

/** A retrieved passage, numbered as the draft cites it. */
export interface Source extends ReplyTask.ReplySource {
  readonly articleId: ArticleId
  readonly chunkId: string
}

/** When a person asks for a draft that no article scores the threshold for: other articles at least this share of the best's score. */
export const requestedShareOfBest = 0.5

/**
 * The articles to draw on, best first: the matched ones scoring at least the threshold; when a
 * person asked and none does, the best and those scoring at least half as much.
 */
export const chooseArticles = (matches: ReadonlyArray<CaseMatch>, threshold: number, reason: DraftReason) => {
  const articles = matches.filter((match) => match.kind === "article" && match.articleId !== undefined)
  const above = articles.filter((match) => match.score >= threshold)
  const best = Math.max(0, ...articles.map((match) => match.score))
  const chosen = reason === "requested" && above.length === 0
    ? articles.filter((match) => match.score >= best * requestedShareOfBest)
    : above
  return chosen.slice(0, maxSourceArticles)
}

/** Each chosen article's most relevant passages, numbered from 1 in the articles' order. */
export const sourcesOf = (articles: ReadonlyArray<CaseMatch>, hits: ReadonlyArray<PassageHit>): Array<Source> => {
  const relevance = relevanceOf(hits)
  const ranked = hits.map((hit, i) => ({ hit, relevance: relevance[i]! })).sort((a, b) => b.relevance - a.relevance)
  return articles
    .flatMap((article) => ranked.filter(({ hit }) => hit.articleId === article.articleId).slice(0, passagesPerArticle))
    .map(({ hit }, i) => ({
      n: i + 1,
      articleId: hit.articleId,
      chunkId: hit.chunkId,
      title: hit.title,
      heading: hit.heading,
      url: hit.url,
      text: hit.text
    }))
}

/** The conversation for the model: the newest messages that fit, oldest first; notes stay out. */
const conversationOf = (messages: ReadonlyArray<MessageRow>) => {
  const kept: Array<{ from: "customer" | "support"; body: string }> = []
  let left = maxConversationCharacters
  for (const message of [...messages].reverse()) {
    if (message.kind === "note" || left <= 0) continue
    const body = message.body.length > left ? message.body.slice(0, left) : message.body
    left -= body.length
    kept.unshift({ from: message.kind === "inbound" ? "customer" : "support", body })
  }
  return kept
}

/** The reply as the customer reads it: the product's greeting, the body, its sources, the closing. */
export const compose = (settings: ProductSettings, customerName: string | null, body: string, citations: ReadonlyArray<Citation>) => {
  const name = customerName?.trim() || "there"
  const sources = citations.map((citation) => `[${citation.n}] ${citation.title}${citation.url === null ? "" : ` — ${citation.url}`}`)
  return [
    settings.replyGreeting.replaceAll("{name}", name),
    body.trim(),
    sources.length === 0 ? "" : `Sources:\n${sources.join("\n")}`,
    settings.replyClosing.replaceAll("{name}", name)
  ].filter((part) => part.trim() !== "").join("\n\n")
}

const customerNameOf = (customer: Record<string, unknown>) =>
  typeof customer.name === "string" ? customer.name : typeof customer.handle === "string" ? customer.handle : null

export class AutoReply extends Effect.Service<AutoReply>()("@nestfleet/core/AutoReply", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const cases = yield* CasesRepo
    const drafts = yield* DraftsRepo
    const matches = yield* MatchesRepo
    const products = yield* ProductsRepo
    const knowledge = yield* Knowledge
    const llm = yield* Llm
    const outbox = yield* ReplyOutbox
    const spaces = yield* EmbeddingSpacesRepo

    const run = Effect.fn("AutoReply.run")(function*(caseId: CaseId, jobId: string, reason: DraftReason) {
      yield* Effect.annotateCurrentSpan({ "case.id": caseId })
      if (Option.isSome(yield* drafts.versionByJob(jobId))) {
        return yield* Effect.logInfo("AutoReply: this job already wrote its draft")
      }
      const found = yield* cases.findById(caseId)
      if (Option.isNone(found)) return yield* Effect.logWarning("AutoReply: the case no longer exists")
      const row = found.value
      const product = yield* Effect.flatten(products.findById(row.productId))
      const settings = product.settings
      const messages = yield* cases.messagesOf(caseId)
      const triage = yield* cases.latestTriage(caseId)
      const match = yield* matches.latestResult(caseId)
      const matched = Option.match(match, { onNone: () => [], onSome: (result) => result.matches })
      const articles = chooseArticles(matched, settings.matchMinSimilarity, reason)

      const text = CaseText.forMatching(row, messages)
      // The vector matching stored for this very text, when it is in the active space: the case is not embedded again.
      const vector = yield* spaces.activeCaseVector(caseId, CaseText.hash(text))
      const passages = articles.length === 0
        ? { hits: [] }
        : yield* knowledge.searchPassages(row.productId, { text, emphasis: row.subject }, Option.isSome(vector) ? vector : undefined)
      const sources = sourcesOf(articles, passages.hits)
      const answer = sources.length === 0 ? null : yield* llm.generate(
        ReplyTask.reply,
        ReplyTask.encodeInput({
          subject: row.subject,
          messages: conversationOf(messages),
          sources: sources.map(({ heading, n, text, title, url }) => ({ n, title, heading, url, text }))
        })
      )
      const checked = answer === null
        ? Either.left(articles.length === 0 ? "No matched article to draw on" : "No passage of the matched articles was found")
        : ReplyGuard.check(answer.value.body, new Set(sources.map((source) => source.n)))
      const citations = Either.match(checked, {
        onLeft: () => [],
        onRight: (cited) =>
          sources.filter((source) => cited.includes(source.n)).map(({ articleId, chunkId, n, title, url }) =>
            new Citation({ n, articleId, chunkId, title, url })
          )
      })
      const bestArticle = articles.reduce<number | null>((best, article) => Math.max(best ?? 0, article.score), null)
      const confidence = Option.match(triage, { onNone: () => null, onSome: (result) => result.confidence })
      const sourcesStep = new ReasoningStep({
        step: "Sources",
        detail: sources.length === 0
          ? "No passage to draw on."
          : `${sources.length} passage(s) of ${new Set(sources.map((s) => s.articleId)).size} article(s) ` +
            (reason === "requested" && bestArticle !== null && bestArticle < settings.matchMinSimilarity
              ? `best matched to the case (asked for by a person; none scored ${settings.matchMinSimilarity})`
              : `scoring at least ${settings.matchMinSimilarity}`) +
            `: ${articles.map((a) => `"${a.title}" (${a.score.toFixed(2)})`).join("; ")}.`,
        evidence: sources.map((source) => `[${source.n}] ${source.title}${source.heading === "" ? "" : ` — ${source.heading}`}`)
      })
      const guardStep = new ReasoningStep({
        step: Either.isLeft(checked) ? "Guard: refused" : "Guard: passed",
        detail: Either.isLeft(checked) ? checked.left : `Cites ${citations.map((c) => `[${c.n}]`).join(", ")}, all retrieved.`,
        evidence: []
      })
      /** The customer's newest message the draft was written from. */
      const answered = messages.filter((message) => message.kind === "inbound").at(-1)?.id ?? null
      const body = answer === null || Either.isLeft(checked)
        ? answer?.value.body ?? ""
        : compose(settings, customerNameOf(row.customer), answer.value.body, citations)
      const author = new DraftAuthor({
        kind: "model",
        name: answer === null ? "none" : `${answer.provider}/${answer.model}`,
        userId: null
      })

      yield* transactions.withTransaction(Effect.gen(function*() {
        const current = yield* Effect.flatten(cases.lock(caseId))
        if (Option.isSome(yield* drafts.versionByJob(jobId))) {
          return yield* Effect.logInfo("AutoReply: this job already wrote its draft")
        }
        // The customer wrote again while this was drafted: the new message's own run drafts
        // from everything; this one would answer without having read it.
        const newest = Option.getOrNull(Option.map(yield* cases.latestInbound(caseId), (message) => message.id))
        if (newest !== answered) return yield* Effect.logInfo("AutoReply: a newer message arrived; its run drafts the reply")
        const draft = yield* drafts.lockForCase(caseId)
        // A refused draft does not push aside a version still waiting for an agent.
        const waiting = draft.latestVersion === 0
          ? Option.none()
          : Option.filter(yield* drafts.findVersion({ draftId: draft.id, version: draft.latestVersion }), (v) => v.status === "pending")
        if (Either.isLeft(checked) && Option.isSome(waiting)) {
          return yield* cases.insertEvent({
            caseId,
            kind: "draft_refused",
            actorUserId: null,
            data: { draftId: draft.id, version: null, reason: checked.left, kept: draft.latestVersion }
          })
        }
        // The policy reads the case and the product as they are now: a person may have changed
        // the type, or the product's reply mode, while the model wrote.
        const now = yield* Effect.flatten(products.findById(row.productId))
        const sending = ReplyPolicy.decide(now.settings, { type: current.type, confidence, bestArticle })
        const status: DraftStatus = Either.isLeft(checked) ? "rejected" : sending.send ? "approved" : "pending"
        const decision = Either.isLeft(checked)
          ? `Refused: ${checked.left}`
          : sending.send
          ? `Approved by the product's policy: ${sending.reason}`
          : null
        const reasoning = [
          sourcesStep,
          guardStep,
          new ReasoningStep({
            step: `Policy: ${status === "approved" ? "send" : status === "pending" ? "wait for approval" : "not sent"}`,
            detail: Either.isLeft(checked) ? "A refused draft is never sent." : sending.reason,
            evidence: []
          })
        ]
        const version = yield* drafts.addVersion({
          draftId: draft.id,
          status,
          body,
          citations,
          author,
          reasoning,
          jobId,
          answersMessageId: answered,
          decision,
          decidedBy: null
        })
        const next = status === "rejected"
          ? (attendable.has(current.status) ? "needs_attention" : current.status)
          : status === "pending" && awaitable.has(current.status)
          ? "awaiting_approval"
          : current.status
        if (next !== current.status) yield* cases.update({ id: caseId, status: next })
        yield* cases.insertEvent({
          caseId,
          kind: "draft_written",
          actorUserId: null,
          data: {
            draftId: draft.id,
            version: version.version,
            status,
            reason,
            citations: citations.length,
            author: author.name,
            ...(next !== current.status ? { caseStatus: { from: current.status, to: next } } : {})
          }
        })
        if (Either.isLeft(checked)) {
          yield* cases.insertEvent({
            caseId,
            kind: "draft_refused",
            actorUserId: null,
            data: { draftId: draft.id, version: version.version, reason: checked.left }
          })
        } else if (sending.send) {
          yield* cases.insertEvent({
            caseId,
            kind: "draft_approved",
            actorUserId: null,
            data: { draftId: draft.id, version: version.version, by: "policy", reason: sending.reason }
          })
          yield* outbox.enqueue(version, { userId: null, name: product.name })
        }
      }))
    }, (effect, caseId) => Effect.provideService(effect, LlmCallSite, { caseId, step: "auto_reply" }), orDieUnexpected)

    return { run } as const
  }),
  dependencies: [
    Transactions.Default,
    CasesRepo.Default,
    DraftsRepo.Default,
    EmbeddingSpacesRepo.Default,
    MatchesRepo.Default,
    ProductsRepo.Default,
    Knowledge.Default,
    ReplyOutbox.Default
  ]
}) {}
