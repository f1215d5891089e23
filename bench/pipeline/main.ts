/**
 * `pnpm bench pipeline`: signed webhook deliveries at a steady rate to a whole NestFleet (API
 * and worker in one process, builtin provider), each a new case that goes through triage and
 * known-issue match against a real knowledge base (the fastify and pino docs of
 * eval/retrieval); prints the time from sending the delivery to the stored matches and routing
 * (`routing.at`), p50/p99, at 1 and at 10 deliveries a second.
 *
 * On a fresh database on the server at BENCH_DATABASE_URL (else TEST_DATABASE_URL), else on a
 * fresh embedded database. The messages are real GitHub issues (eval/triage/dev.jsonl).
 */
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Effect, Redacted } from "effect"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { readJsonl } from "../../eval/lib/Jsonl.js"
import * as NestFleetProcess from "../../eval/lib/NestFleetProcess.js"
import { median, now, percentile, printTable } from "../lib/Stats.js"

const root = Path.resolve(fileURLToPath(import.meta.url), "../../..")
const runs = [{ perSecond: 1, seconds: 30 }, { perSecond: 10, seconds: 20 }] as const
const warmUp = 5

const articles = readJsonl<{ product: string; title: string; url: string; body: string }>(Path.join(root, "eval/retrieval/articles.jsonl"))
  .filter((article) => article.product === "fastify" || article.product === "pino")
const messages = readJsonl<{ title: string; body: string }>(Path.join(root, "eval/triage/dev.jsonl"))
  .map((issue) => ({ subject: issue.title, body: issue.body.trim() || issue.title }))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const measure = async (nestfleet: NestFleetProcess.NestFleet, channel: { id: string; secret: string }, perSecond: number, seconds: number) => {
  const sent: Array<{ caseId: string; at: number }> = []
  const pending: Array<Promise<void>> = []
  const start = now()
  for (let i = 0; i < perSecond * seconds; i++) {
    const due = start + (i * 1000) / perSecond
    await sleep(Math.max(0, due - now()))
    const message = messages[(i * 7) % messages.length]!
    const at = now()
    pending.push(nestfleet.deliver(channel.id, channel.secret, {
      externalId: `bench-${perSecond}-${i}-${Math.random()}`,
      ...message,
      customer: { name: "bench" }
    }).then((answer) => {
      if (answer.status !== 202) throw new Error(`the webhook answered ${answer.status}`)
      sent.push({ caseId: answer.body.caseId, at })
    }))
  }
  await Promise.all(pending)
  const latencies: Array<number> = []
  for (const { at, caseId } of sent) {
    const routedAt = await NestFleetProcess.eventually(async () => {
      const detail = (await nestfleet.call<{ routing: { at: string } | null }>(`/api/v1/cases/${caseId}`)).body
      return detail.routing === null ? undefined : Date.parse(detail.routing.at)
    }, 600_000, 100)
    latencies.push(routedAt - at)
  }
  return latencies
}

const run = async (databaseUrl: string | undefined) => {
  const nestfleet = await NestFleetProcess.start(databaseUrl === undefined ? {} : { databaseUrl })
  try {
    const product = await nestfleet.call<{ id: string }>("/api/v1/products", {
      method: "POST",
      body: { name: "Bench", slug: "bench" }
    })
    for (const article of articles) {
      await nestfleet.call(`/api/v1/products/${product.body.id}/articles`, {
        method: "POST",
        body: { title: article.title, body: article.body, url: article.url }
      })
    }
    const channel = (await nestfleet.call<{ channel: { id: string }; secret: string }>(
      `/api/v1/products/${product.body.id}/channels`,
      { method: "POST", body: { type: "webhook", name: "bench" } }
    )).body
    const target = { id: channel.channel.id, secret: channel.secret }
    // Articles embedded and the model loaded before anything is timed.
    await NestFleetProcess.eventually(async () => {
      const page = (await nestfleet.call<{ items: ReadonlyArray<{ embeddingState: string }> }>(
        `/api/v1/products/${product.body.id}/articles?limit=100`
      )).body
      return page.items.every((item) => item.embeddingState === "ready") ? true : undefined
    }, 1_800_000, 1000)
    await measure(nestfleet, target, 1, warmUp)
    const rows: Array<Array<string>> = [["rate", "deliveries", "p50 ms", "p99 ms", "max ms"]]
    for (const { perSecond, seconds } of runs) {
      const latencies = await measure(nestfleet, target, perSecond, seconds)
      rows.push([
        `${perSecond}/s`,
        String(latencies.length),
        median(latencies).toFixed(0),
        percentile(latencies, 99).toFixed(0),
        Math.max(...latencies).toFixed(0)
      ])
    }
    console.log(`signed webhook → triage → known-issue match stored (routing.at), builtin provider, ${databaseUrl ? "PostgreSQL server" : "embedded database"}, ${articles.length} articles`)
    printTable(rows)
  } finally {
    await nestfleet.stop()
  }
}

const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL
await (adminUrl
  ? Effect.runPromise(Effect.scoped(Effect.flatMap(
    TestDatabase.createServerDatabase(Redacted.make(adminUrl)),
    ({ url }) => Effect.promise(() => run(Redacted.value(url)))
  )))
  : run(undefined))
