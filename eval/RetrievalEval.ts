/**
 * `pnpm eval retrieval <articles.jsonl> <questions.jsonl> [--split dev|heldout|all] [--products a,b] [--calibrate …]`
 *
 * The articles of every product the chosen questions ask about are written to a running
 * NestFleet through its API and embedded by its worker; each question is then delivered as a
 * customer's message (a signed webhook), goes through triage and known-issue match, and the
 * article matches stored on its case are read back. Prints recall@1/5 (an answer page among
 * the first k article matches) and MRR, and how well the match scores are calibrated: the
 * expected calibration error of `score` read as the probability that the article answers.
 * With `--calibrate` it also fits the logistic curve (MatchScore) of the embedding model on
 * these pairs — run it on dev, never on held-out.
 */
import { readJsonl } from "./lib/Jsonl.js"
import { calibrationBins, ece } from "./lib/Metrics.js"
import * as NestFleetProcess from "./lib/NestFleetProcess.js"
import type { Article, Question } from "./lib/RetrievalDataset.js"


interface Match {
  readonly kind: "article" | "case"
  readonly articleId?: string
  readonly score: number
}

const option = (args: ReadonlyArray<string>, name: string) => {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}

/** The cosine a calibrated score came from, through the curve that made it. */
const cosineOf = (score: number, curve: { midpoint: number; slope: number }) => {
  const p = Math.min(Math.max(score, 1e-4), 1 - 1e-4)
  return curve.midpoint + Math.log(p / (1 - p)) / curve.slope
}

/** A one-feature logistic regression by Newton's method: P(relevant) = σ(a·x + b). */
export const fitLogistic = (xs: ReadonlyArray<number>, ys: ReadonlyArray<boolean>) => {
  let a = 0
  let b = 0
  for (let iteration = 0; iteration < 100; iteration++) {
    let ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0
    xs.forEach((x, i) => {
      const p = 1 / (1 + Math.exp(-(a * x + b)))
      const error = p - (ys[i] ? 1 : 0)
      const w = Math.max(p * (1 - p), 1e-9)
      ga += error * x
      gb += error
      haa += w * x * x
      hab += w * x
      hbb += w
    })
    // A small ridge keeps the step finite when the classes separate.
    haa += 1e-6
    hbb += 1e-6
    const det = haa * hbb - hab * hab
    const da = (hbb * ga - hab * gb) / det
    const db = (haa * gb - hab * ga) / det
    a -= da
    b -= db
    if (Math.abs(da) + Math.abs(db) < 1e-9) break
  }
  return { slope: a, midpoint: -b / a }
}

const num = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(3))

export const main = async (args: ReadonlyArray<string>) => {
  const [articlesFile, questionsFile] = args
  if (articlesFile === undefined || questionsFile === undefined) {
    throw new Error("usage: pnpm eval retrieval <articles.jsonl> <questions.jsonl> [--split dev|heldout|all] [--calibrate]")
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

    const results: Array<{ question: Question; ranked: ReadonlyArray<Match> }> = []
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
      results.push({ question, ranked: matches.filter((match) => match.kind === "article") })
    })

    const datasetId = (match: Match) => articleIds.get(match.articleId!) ?? ""
    const hitAt = (k: number) =>
      results.filter(({ question, ranked }) => ranked.slice(0, k).some((m) => question.answerArticleIds.includes(datasetId(m))))
        .length / results.length
    const mrr = results.reduce((sum, { question, ranked }) => {
      const i = ranked.findIndex((m) => question.answerArticleIds.includes(datasetId(m)))
      return sum + (i === -1 ? 0 : 1 / (i + 1))
    }, 0) / results.length
    console.log(`\nrecall@1 ${num(hitAt(1))}   recall@5 ${num(hitAt(5))}   MRR ${num(mrr)}   (${results.length} questions)`)

    const pairs = results.flatMap(({ question, ranked }) =>
      ranked.slice(0, 5).map((m) => ({ score: m.score, relevant: question.answerArticleIds.includes(datasetId(m)) }))
    )
    const scores = pairs.map((p) => p.score)
    const relevant = pairs.map((p) => p.relevant)
    console.log(`\nscores of the top-5 article matches as P(answers): ECE (10 bins) ${num(ece(scores, relevant, 10))}`)
    for (const bin of calibrationBins(scores, relevant, 10).filter((b) => b.count > 0)) {
      console.log(`  ${bin.from.toFixed(1)}-${bin.to.toFixed(1)}  n=${String(bin.count).padStart(4)}  mean score ${num(bin.confidence)}  answers ${num(bin.accuracy)}`)
    }
    if (args.includes("--calibrate")) {
      const curve = { midpoint: Number(option(args, "--midpoint") ?? NaN), slope: Number(option(args, "--slope") ?? NaN) }
      if (Number.isNaN(curve.midpoint) || Number.isNaN(curve.slope)) {
        throw new Error("--calibrate needs the curve the scores were made with: --midpoint M --slope S (MatchScore.curves)")
      }
      const fitted = fitLogistic(pairs.map((p) => cosineOf(p.score, curve)), relevant)
      console.log(`\nfitted curve: { midpoint: ${fitted.midpoint.toFixed(3)}, slope: ${fitted.slope.toFixed(2)} }`)
    }
  } catch (error) {
    process.stderr.write(`\nThe run failed; the end of NestFleet's log:\n${nestfleet.logTail()}\n`)
    throw error
  } finally {
    await nestfleet.stop()
  }
}
