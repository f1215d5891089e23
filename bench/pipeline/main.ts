/**
 * `pnpm bench pipeline`: signed webhook deliveries at a steady rate to a whole NestFleet (API
 * and worker in one process, builtin provider), each a new case that goes through triage,
 * known-issue match against a real knowledge base (the fastify and pino docs of
 * eval/retrieval), a cited draft and, sent at once by the product's policy, delivery to a
 * local webhook receiver; prints the time from sending the delivery to the stored matches and
 * routing (`routing.at`), to the draft (its `createdAt`) and to the reply's arrival at the
 * receiver, p50/p99, at 1 and at 10 deliveries a second.
 *
 * Every case is routed to a reply (matchMinSimilarity 0: the bench times the path, not the
 * threshold) and every type but an incident is sent without approval (autoSendMinConfidence
 * 0), so incidents stop at their draft: their delivery is not timed.
 *
 * On a fresh database on the server at BENCH_DATABASE_URL (else TEST_DATABASE_URL), else on a
 * fresh embedded database. The messages are real GitHub issues (eval/triage/dev.jsonl).
 *
 * It also prints the CPU time each case cost, in NestFleet's process (all its threads) and in
 * PostgreSQL's (every `postgres` process: run it on a server nothing else is using), over each
 * rate's run, and the rate the machine's cores could sustain at that cost.
 */
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Effect, Redacted } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { readJsonl } from "../../eval/lib/Jsonl.js"
import * as NestFleetProcess from "../../eval/lib/NestFleetProcess.js"
import * as CpuTime from "../lib/CpuTime.js"
import { median, now, percentile, printTable } from "../lib/Stats.js"

const root = Path.resolve(fileURLToPath(import.meta.url), "../../..")
const runs = [{ perSecond: 1, seconds: 30 }, { perSecond: 10, seconds: 20 }] as const
const warmUp = 5

const articles = readJsonl<{ product: string; title: string; url: string; body: string }>(Path.join(root, "eval/retrieval/articles.jsonl"))
  .filter((article) => article.product === "fastify" || article.product === "pino")
const messages = readJsonl<{ title: string; body: string }>(Path.join(root, "eval/triage/dev.jsonl"))
  .map((issue) => ({ subject: issue.title, body: issue.body.trim() || issue.title }))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The customer's side of the webhook channel: when each case's reply arrived. */
const startReceiver = () =>
  new Promise<{ readonly url: string; readonly arrivals: Map<string, number>; readonly close: () => void }>((resolve) => {
    const arrivals = new Map<string, number>()
    const server = Http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const at = now()
        const { caseId } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { caseId: string }
        if (!arrivals.has(caseId)) arrivals.set(caseId, at)
        response.writeHead(204).end()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({ url: `http://127.0.0.1:${port}/replies`, arrivals, close: () => server.close() })
    })
  })

interface Timings {
  readonly matched: Array<number>
  readonly drafted: Array<number>
  readonly delivered: Array<number>
  /** Drafts held for approval (incidents): not delivered. */
  held: number
}

interface Detail {
  readonly routing: { at: string } | null
  readonly drafts: ReadonlyArray<{ version: number; status: string; createdAt: string }>
}

const measure = async (
  nestfleet: NestFleetProcess.NestFleet,
  channel: { id: string; secret: string },
  arrivals: ReadonlyMap<string, number>,
  perSecond: number,
  seconds: number
): Promise<Timings> => {
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
  const timings: Timings = { matched: [], drafted: [], delivered: [], held: 0 }
  for (const { at, caseId } of sent) {
    const detail = await NestFleetProcess.eventually(async () => {
      const read = (await nestfleet.call<Detail>(`/api/v1/cases/${caseId}`)).body
      return read.routing === null || read.drafts.length === 0 ? undefined : read
    }, 600_000, 100)
    const first = detail.drafts.find((draft) => draft.version === 1)!
    timings.matched.push(Date.parse(detail.routing!.at) - at)
    timings.drafted.push(Date.parse(first.createdAt) - at)
    if (first.status === "pending") {
      timings.held++
      continue
    }
    const arrived = await NestFleetProcess.eventually(async () => arrivals.get(caseId), 600_000, 50)
    timings.delivered.push(arrived - at)
  }
  return timings
}

const run = async (databaseUrl: string | undefined) => {
  const receiver = await startReceiver()
  const nestfleet = await NestFleetProcess.start(databaseUrl === undefined ? {} : { databaseUrl })
  try {
    const product = await nestfleet.call<{ id: string }>("/api/v1/products", {
      method: "POST",
      body: {
        name: "Bench",
        slug: "bench",
        settings: {
          matchMinSimilarity: 0,
          replyMode: "auto",
          autoSendMinConfidence: 0,
          autoSendTypes: ["bug", "question", "feature_request", "billing", "account", "other"]
        }
      }
    })
    for (const article of articles) {
      await nestfleet.call(`/api/v1/products/${product.body.id}/articles`, {
        method: "POST",
        body: { title: article.title, body: article.body, url: article.url }
      })
    }
    const channel = (await nestfleet.call<{ channel: { id: string }; secret: string }>(
      `/api/v1/products/${product.body.id}/channels`,
      { method: "POST", body: { type: "webhook", name: "bench", config: { replyUrl: receiver.url } } }
    )).body
    const target = { id: channel.channel.id, secret: channel.secret }
    // Articles embedded and the model loaded before anything is timed.
    await NestFleetProcess.eventually(async () => {
      const page = (await nestfleet.call<{ items: ReadonlyArray<{ embeddingState: string }> }>(
        `/api/v1/products/${product.body.id}/articles?limit=100`
      )).body
      return page.items.every((item) => item.embeddingState === "ready") ? true : undefined
    }, 1_800_000, 1000)
    await measure(nestfleet, target, receiver.arrivals, 1, warmUp)
    const rows: Array<Array<string>> = [["rate", "signed webhook →", "cases", "p50 ms", "p99 ms", "max ms"]]
    const row = (rate: string, what: string, latencies: ReadonlyArray<number>) =>
      rows.push([
        rate,
        what,
        String(latencies.length),
        median([...latencies]).toFixed(0),
        percentile([...latencies], 99).toFixed(0),
        Math.max(...latencies).toFixed(0)
      ])
    const held: Array<string> = []
    const cpu: Array<Array<string>> = [["rate", "cases", "NestFleet CPU ms/case", "PostgreSQL CPU ms/case", `cases/s ${CpuTime.cores} cores allow`]]
    for (const { perSecond, seconds } of runs) {
      const before = { nestfleet: CpuTime.ofProcess(nestfleet.pid), postgres: CpuTime.ofPostgres() }
      const timings = await measure(nestfleet, target, receiver.arrivals, perSecond, seconds)
      const cases = perSecond * seconds
      const perCase = {
        nestfleet: (CpuTime.ofProcess(nestfleet.pid) - before.nestfleet) / cases,
        postgres: databaseUrl === undefined ? 0 : (CpuTime.ofPostgres() - before.postgres) / cases
      }
      cpu.push([
        `${perSecond}/s`,
        String(cases),
        perCase.nestfleet.toFixed(0),
        databaseUrl === undefined ? "(in NestFleet's)" : perCase.postgres.toFixed(0),
        ((CpuTime.cores * 1000) / (perCase.nestfleet + perCase.postgres)).toFixed(1)
      ])
      row(`${perSecond}/s`, "matches stored (routing.at)", timings.matched)
      row(`${perSecond}/s`, "draft ready (createdAt)", timings.drafted)
      row(`${perSecond}/s`, "reply at the receiver", timings.delivered)
      held.push(`${timings.held} at ${perSecond}/s`)
    }
    console.log(
      `signed webhook → triage → known-issue match → cited draft → reply delivered to a local webhook receiver, builtin provider, ` +
        `${databaseUrl ? "PostgreSQL server" : "embedded database"}, ${articles.length} articles`
    )
    printTable(rows)
    console.log("")
    printTable(cpu)
    console.log(`Drafts held for approval (incidents, never sent by the policy), not delivered: ${held.join(", ")}`)
  } finally {
    await nestfleet.stop()
    receiver.close()
  }
}

const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL
await (adminUrl
  ? Effect.runPromise(Effect.scoped(Effect.flatMap(
    TestDatabase.createServerDatabase(Redacted.make(adminUrl)),
    ({ url }) => Effect.promise(() => run(Redacted.value(url)))
  )))
  : run(undefined))
