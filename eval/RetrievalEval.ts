/**
 * `pnpm eval retrieval <articles.jsonl> <questions.jsonl> [--split dev|heldout|all] [--products a,b] [--calibrate] [--drafts]`
 *
 * The articles of every product the chosen questions ask about are written to a running
 * NestFleet through its API and embedded by its worker; each question is then delivered as a
 * customer's message (a signed webhook), goes through triage and known-issue match, and the
 * article matches stored on its case are read back. Prints recall@1/5 (an answer page among
 * the first k article matches) and MRR, and how well the match scores are calibrated: the
 * expected calibration error of `score` read as the probability that the article answers.
 * With `--calibrate` it also fits the score curve (MatchScore) of the embedding model on the
 * listed article matches, from the evidence each carries (cosine and share of the words) —
 * run it on dev, never on held-out.
 *
 * With `--drafts` each matched case is also asked for a reply draft (`POST /cases/:id/draft`,
 * as an agent does), and the drafts are scored by what they cite: how many passed the guard,
 * how many cite a page the question's answerer linked, and what share of all citations are
 * such pages.
 */
import { readJsonl } from "./lib/Jsonl.js"
import { calibrationBins, ece } from "./lib/Metrics.js"
import * as NestFleetProcess from "./lib/NestFleetProcess.js"
import type { Article, Question } from "./lib/RetrievalDataset.js"


interface DraftVersion {
  readonly status: string
  readonly citations: ReadonlyArray<{ readonly articleId: string }>
}

interface Match {
  readonly kind: "article" | "case"
  readonly articleId?: string
  readonly score: number
  readonly evidence?: { readonly meaning: number | null; readonly words: number | null }
}

const option = (args: ReadonlyArray<string>, name: string) => {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}

/**
 * A logistic regression by Newton's method: P(relevant) = σ(w · x + bias), for feature rows
 * `xs` (a small ridge keeps each step finite when the classes separate). Answers the weights,
 * then the bias.
 */
export const fitLogistic = (xs: ReadonlyArray<ReadonlyArray<number>>, ys: ReadonlyArray<boolean>) => {
  const n = (xs[0]?.length ?? 0) + 1
  const rows = xs.map((x) => [...x, 1])
  let w = new Array<number>(n).fill(0)
  for (let iteration = 0; iteration < 100; iteration++) {
    const gradient = new Array<number>(n).fill(0)
    const hessian = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1e-6 : 0)))
    rows.forEach((x, k) => {
      const p = 1 / (1 + Math.exp(-x.reduce((total, v, i) => total + v * w[i]!, 0)))
      const error = p - (ys[k] ? 1 : 0)
      const weight = Math.max(p * (1 - p), 1e-9)
      for (let i = 0; i < n; i++) {
        gradient[i]! += error * x[i]!
        for (let j = 0; j < n; j++) hessian[i]![j]! += weight * x[i]! * x[j]!
      }
    })
    const step = solve(hessian, gradient)
    w = w.map((v, i) => v - step[i]!)
    if (step.reduce((total, v) => total + Math.abs(v), 0) < 1e-9) break
  }
  return w
}

/** The solution of a small linear system by Gaussian elimination with partial pivoting. */
const solve = (matrix: ReadonlyArray<ReadonlyArray<number>>, vector: ReadonlyArray<number>) => {
  const n = vector.length
  const a = matrix.map((row, i) => [...row, vector[i]!])
  for (let col = 0; col < n; col++) {
    const pivot = a.reduce((best, row, i) => (i >= col && Math.abs(row[col]!) > Math.abs(a[best]![col]!) ? i : best), col)
    ;[a[col], a[pivot]] = [a[pivot]!, a[col]!]
    for (let i = col + 1; i < n; i++) {
      const factor = a[i]![col]! / a[col]![col]!
      for (let j = col; j <= n; j++) a[i]![j]! -= factor * a[col]![j]!
    }
  }
  const x = new Array<number>(n).fill(0)
  for (let i = n - 1; i >= 0; i--) {
    x[i] = (a[i]![n]! - a[i]!.slice(i + 1, n).reduce((total, v, j) => total + v * x[i + 1 + j]!, 0)) / a[i]![i]!
  }
  return x
}

const num = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(3))

export const main = async (args: ReadonlyArray<string>) => {
  const [articlesFile, questionsFile] = args
  if (articlesFile === undefined || questionsFile === undefined) {
    throw new Error(
      "usage: pnpm eval retrieval <articles.jsonl> <questions.jsonl> [--split dev|heldout|all] [--products a,b] [--calibrate] [--drafts]"
    )
  }
  const split = option(args, "--split") ?? "dev"
  const only = option(args, "--products")?.split(",")
  const questions = readJsonl<Question>(questionsFile).filter((q) =>
    (split === "all" || q.split === split) && (only === undefined || only.includes(q.product))
  )
  const products = [...new Set(questions.map((q) => q.product))].sort()
  const articles = readJsonl<Article>(articlesFile).filter((article) => products.includes(article.product))
  console.log(`${questions.length} ${split} questions about ${products.join(", ")}; ${articles.length} articles`)

  const nestfleet = await NestFleetProcess.start()
  try {
    const channels = new Map<string, { id: string; secret: string }>()
    const articleIds = new Map<string, string>() // NestFleet's id → the dataset's
    for (const product of products) {
      const created = await nestfleet.call<{ id: string }>("/api/v1/products", {
        method: "POST",
        body: { name: product, slug: `${product}-${Date.now()}`.toLowerCase().replace(/[^a-z0-9-]/g, "-") }
      })
      const channel = await nestfleet.call<{ channel: { id: string }; secret: string }>(
        `/api/v1/products/${created.body.id}/channels`,
        { method: "POST", body: { type: "webhook", name: "questions" } }
      )
      channels.set(product, { id: channel.body.channel.id, secret: channel.body.secret })
      await NestFleetProcess.forEachLimited(articles.filter((a) => a.product === product), 4, `${product} articles`, async (article) => {
        const answer = await nestfleet.call<{ id: string }>(`/api/v1/products/${created.body.id}/articles`, {
          method: "POST",
          body: { title: article.title.slice(0, 300), body: article.body, url: article.url }
        })
        if (answer.status !== 201) throw new Error(`${article.id}: ${answer.status} ${JSON.stringify(answer.body)}`)
        articleIds.set(answer.body.id, article.id)
      })
    }
    const started = Date.now()
    await NestFleetProcess.forEachLimited([...articleIds.keys()], 8, "embedded", (id) =>
      NestFleetProcess.eventually(async () => {
        const article = (await nestfleet.call<{ embeddingState: string }>(`/api/v1/articles/${id}`)).body
        return article.embeddingState === "ready" ? true : undefined
      }, 3_600_000, 1000).then(() => undefined))
    console.log(`articles embedded in ${((Date.now() - started) / 1000).toFixed(0)} s`)

    const results: Array<{ question: Question; caseId: string; ranked: ReadonlyArray<Match> }> = []
    await NestFleetProcess.forEachLimited(questions, 2, "matched", async (question) => {
      const channel = channels.get(question.product)!
      const [subject, ...rest] = question.question.split("\n")
      const delivered = await nestfleet.deliver(channel.id, channel.secret, {
        externalId: question.id,
        subject: subject!.slice(0, 300) || question.id,
        body: rest.join("\n").trim() || question.question,
        customer: { name: "evaluation" }
      })
      const matches = await NestFleetProcess.eventually(async () => {
        const detail = (await nestfleet.call<{ routing: unknown; matches: ReadonlyArray<Match> }>(
          `/api/v1/cases/${delivered.body.caseId}`
        )).body
        return detail.routing === null ? undefined : detail.matches
      })
      results.push({ question, caseId: delivered.body.caseId, ranked: matches.filter((match) => match.kind === "article") })
    })

    /** Whether the match is a page the question's answerer linked. */
    const answers = (question: Question, match: Match) =>
      question.answerArticleIds.includes(articleIds.get(match.articleId!) ?? "")
    const hitAt = (rows: typeof results, k: number) =>
      rows.filter(({ question, ranked }) => ranked.slice(0, k).some((m) => answers(question, m))).length / rows.length
    const mrr = results.reduce((sum, { question, ranked }) => {
      const i = ranked.findIndex((m) => answers(question, m))
      return sum + (i === -1 ? 0 : 1 / (i + 1))
    }, 0) / results.length
    console.log(`\nrecall@1 ${num(hitAt(results, 1))}   recall@5 ${num(hitAt(results, 5))}   MRR ${num(mrr)}   (${results.length} questions)`)

    const pairs = results.flatMap(({ question, ranked }) =>
      ranked.slice(0, 5).map((m) => ({ score: m.score, relevant: answers(question, m) }))
    )
    const scores = pairs.map((p) => p.score)
    const relevant = pairs.map((p) => p.relevant)
    console.log(`\nscores of the top-5 article matches as P(answers): ECE (10 bins) ${num(ece(scores, relevant, 10))}`)
    for (const bin of calibrationBins(scores, relevant, 10).filter((b) => b.count > 0)) {
      console.log(`  ${bin.from.toFixed(1)}-${bin.to.toFixed(1)}  n=${String(bin.count).padStart(4)}  mean score ${num(bin.confidence)}  answers ${num(bin.accuracy)}`)
    }
    const byScore = results.map(({ caseId, question, ranked }) => ({
      question,
      caseId,
      ranked: [...ranked].sort((x, y) => y.score - x.score)
    }))
    console.log(`(the same matches ordered by score alone: recall@1 ${num(hitAt(byScore, 1))}   recall@5 ${num(hitAt(byScore, 5))})`)
    if (args.includes("--calibrate")) {
      // Every article match listed (up to 10 a case), by what its score is made from.
      const listed = results.flatMap(({ question, ranked }) =>
        ranked.flatMap((m) =>
          m.evidence?.meaning == null
            ? []
            : [{ x: [m.evidence.meaning, m.evidence.words ?? 0], relevant: answers(question, m) }]
        )
      )
      const [slope, words, bias] = fitLogistic(listed.map((p) => p.x), listed.map((p) => p.relevant)) as [number, number, number]
      console.log(
        `\nfitted curve on ${listed.length} listed article matches: ` +
          `{ midpoint: ${(-bias / slope).toFixed(3)}, slope: ${slope.toFixed(3)}, words: ${words.toFixed(3)} }`
      )
    }
    if (args.includes("--drafts")) {
      // What the case shows: its draft versions (newest first) and how many drafts were refused.
      const drafting = async (caseId: string) => {
        const detail = (await nestfleet.call<{
          drafts: ReadonlyArray<DraftVersion>
          timeline: ReadonlyArray<{ kind: string }>
        }>(`/api/v1/cases/${caseId}`)).body
        return { versions: detail.drafts, refused: detail.timeline.filter((event) => event.kind === "draft_refused").length }
      }
      const drafts: Array<{ question: Question; version: DraftVersion | null }> = []
      await NestFleetProcess.forEachLimited(results, 2, "drafted", async ({ caseId, question }) => {
        const before = await drafting(caseId)
        const asked = await nestfleet.call(`/api/v1/cases/${caseId}/draft`, { method: "POST" })
        if (asked.status !== 202) throw new Error(`${question.id}: draft ${asked.status} ${JSON.stringify(asked.body)}`)
        // The requested draft: a version newer than those before, or a refusal (kept as a rejected version or not at all).
        const version = await NestFleetProcess.eventually(async () => {
          const now = await drafting(caseId)
          if (now.versions.length > before.versions.length) return now.versions[0]!
          return now.refused > before.refused ? null : undefined
        })
        drafts.push({ question, version })
      })
      const passed = drafts.flatMap(({ question, version }) =>
        version === null || version.status === "rejected" ? [] : [{ question, version }]
      )
      const citing = passed.filter(({ question, version }) =>
        version.citations.some((citation) => question.answerArticleIds.includes(articleIds.get(citation.articleId) ?? ""))
      )
      const citations = passed.flatMap(({ question, version }) =>
        version.citations.map((citation) => question.answerArticleIds.includes(articleIds.get(citation.articleId) ?? ""))
      )
      console.log(
        `\ndrafts: ${passed.length} of ${drafts.length} passed the guard; ` +
          `${num(citing.length / drafts.length)} cite a page the answerer linked; ` +
          `citation precision ${num(citations.filter(Boolean).length / citations.length)} ` +
          `(${citations.length} citations, ${num(citations.length / Math.max(1, passed.length))} a draft)`
      )
    }
  } catch (error) {
    process.stderr.write(`\nThe run failed; the end of NestFleet's log:\n${nestfleet.logTail()}\n`)
    throw error
  } finally {
    await nestfleet.stop()
  }
}
