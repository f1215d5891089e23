/**
 * `pnpm bench ingest`: signed webhook deliveries at a fixed concurrency against the real
 * NestFleet API process, and against a bare `node:http` + `pg` server doing the same
 * verification and inserts (BareServer.ts) on the same kind of database, side by side.
 *
 * Each measurement gets a fresh database on the server at BENCH_DATABASE_URL (else
 * TEST_DATABASE_URL); the bare server needs a real server, so without one this exits.
 * Servers run as their own processes; this process only generates the load.
 */
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Effect, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createHmac, randomBytes, randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Pool } from "undici"
import { median, now, percentile, printTable } from "../lib/Stats.js"

const settings = {
  rounds: 2,
  /**
   * Deliveries in flight at once: a busy moment for several senders, and twice what this
   * 2-core machine needs for either server to reach its peak rate (measured: more clients
   * only wait in line). The targets are judged at this load.
   */
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 8),
  warmUpSeconds: 3,
  durationSeconds: 20,
  /** A shorter run far past saturation, to show how each server queues; no target. */
  overload: { concurrency: 32, durationSeconds: 10 }
}

const root = Path.resolve(fileURLToPath(import.meta.url), "../../..")
const encryptionKey = randomBytes(32).toString("hex")
const admin = { email: "bench@nestfleet.test", password: "bench-admin-password" }

const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL
if (!adminUrl) {
  process.stderr.write("pnpm bench ingest needs a PostgreSQL server: set BENCH_DATABASE_URL or TEST_DATABASE_URL\n")
  process.exit(1)
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

interface Server {
  readonly url: string
  /** CPU time the server's process has used so far, in ms (Linux); undefined elsewhere. */
  readonly cpuMillis: () => number | undefined
  readonly stop: () => Promise<void>
}

const clockTicksPerSecond = 100

const processCpuMillis = (pid: number | undefined): number | undefined => {
  try {
    const fields = Fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond
  } catch {
    return undefined
  }
}

/**
 * Starts a server as its own process. Its output goes to a file, as a deployed server's logs
 * would, rather than through a pipe this process would have to drain while it generates load.
 */
const startProcess = async (args: ReadonlyArray<string>, env: Record<string, string>): Promise<Server> => {
  const port = await freePort()
  const logDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-bench-"))
  const logFile = Path.join(logDir, "server.log")
  const log = Fs.openSync(logFile, "w")
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: root,
    env: { PATH: process.env.PATH!, PORT: String(port), ...env },
    stdio: ["ignore", log, log]
  })
  Fs.closeSync(log)
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  const output = () => Fs.readFileSync(logFile, "utf8").slice(-20_000)
  const deadline = Date.now() + 60_000
  while (!output().includes("Listening")) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start:\n${output()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    cpuMillis: () => processCpuMillis(child.pid),
    stop: async () => {
      child.kill("SIGTERM")
      await exited
      Fs.rmSync(logDir, { recursive: true, force: true })
    }
  }
}

const startNestFleet = (databaseUrl: string) =>
  startProcess(["apps/api/src/main.ts"], {
    DATABASE_URL: databaseUrl,
    JWT_SECRET: randomBytes(32).toString("hex"),
    ENCRYPTION_KEY: encryptionKey,
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    LOG_FORMAT: "json"
  })

const startBare = (databaseUrl: string) =>
  startProcess(["bench/ingest/BareServer.ts"], { DATABASE_URL: databaseUrl, ENCRYPTION_KEY: encryptionKey })

const post = async (url: string, body: unknown, token?: string) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body)
  })
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`)
  return response.json() as Promise<any>
}

/** Through the API: the schema (migrations), a product and a webhook channel; its id and secret. */
const prepare = async (server: Server) => {
  const { accessToken } = await post(`${server.url}/api/v1/auth/login`, admin)
  const product = await post(`${server.url}/api/v1/products`, { name: "Bench", slug: "bench" }, accessToken)
  const { channel, secret } = await post(
    `${server.url}/api/v1/products/${product.id}/channels`,
    { type: "webhook", name: "Bench webhook" },
    accessToken
  )
  return { channelId: channel.id as string, secret: secret as string }
}

/** A new delivery, signed as a Standard Webhooks sender signs it. */
const signedDelivery = (secret: string) => {
  const id = randomUUID()
  const body = JSON.stringify({
    externalId: id,
    subject: "Export to CSV fails with a timeout",
    body: "When I export the quarterly report the page spins and then shows an error. It worked last week.",
    customer: { email: "ada@example.com", name: "Ada" },
    metadata: { plan: "team" }
  })
  const timestamp = Math.floor(Date.now() / 1000)
  const key = Buffer.from(secret.slice("whsec_".length), "base64")
  const signature = createHmac("sha256", key).update(`msg_${id}.${timestamp}.${body}`).digest("base64")
  return {
    body,
    headers: {
      "content-type": "application/json",
      "webhook-id": `msg_${id}`,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": `v1,${signature}`
    }
  }
}

interface Figures {
  readonly requestsPerSecond: number
  readonly latencies: Array<number>
  readonly failures: number
  /** The server process's CPU time per accepted request, in ms. */
  readonly cpuPerRequest: number | undefined
}

/** `concurrency` clients sending new deliveries back to back for `seconds`. */
const load = async (
  server: Server,
  target: { channelId: string; secret: string },
  concurrency: number,
  seconds: number
): Promise<Figures> => {
  const pool = new Pool(server.url, { connections: concurrency, pipelining: 1 })
  const latencies: Array<number> = []
  let failures = 0
  const end = now() + seconds * 1000
  const client = async () => {
    while (now() < end) {
      const delivery = signedDelivery(target.secret)
      const started = now()
      const response = await pool.request({
        path: `/api/v1/webhooks/${target.channelId}`,
        method: "POST",
        headers: delivery.headers,
        body: delivery.body
      })
      await response.body.dump()
      if (response.statusCode === 202) latencies.push(now() - started)
      else failures++
    }
  }
  const cpuBefore = server.cpuMillis()
  const started = now()
  await Promise.all(Array.from({ length: concurrency }, client))
  const elapsed = (now() - started) / 1000
  const cpuAfter = server.cpuMillis()
  await pool.close()
  return {
    requestsPerSecond: latencies.length / elapsed,
    latencies,
    failures,
    cpuPerRequest: cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / latencies.length
  }
}

type Subject = "NestFleet" | "bare"

/** A fresh database with the schema and a channel; the server under test is started on it. */
const measure = (subject: Subject, concurrency: number, seconds: number) =>
  Effect.scoped(Effect.gen(function*() {
    const { url: databaseUrl } = yield* TestDatabase.createServerDatabase(Redacted.make(adminUrl))
    const url = Redacted.value(databaseUrl)
    const figures = yield* Effect.promise(async () => {
      const setup = await startNestFleet(url)
      const target = await prepare(setup)
      let server = setup
      if (subject === "bare") {
        await setup.stop()
        server = await startBare(url)
      }
      try {
        await load(server, target, concurrency, settings.warmUpSeconds)
        return await load(server, target, concurrency, seconds)
      } finally {
        await server.stop()
      }
    })
    return figures
  }))

const ms = (value: number | undefined) => (value === undefined ? "n/a" : value.toFixed(1))

/** Rounds of both subjects at `concurrency`, alternating which goes first; the figures of each. */
const compare = (rounds: number, concurrency: number, seconds: number) =>
  Effect.gen(function*() {
    const results = { NestFleet: [] as Array<Figures>, bare: [] as Array<Figures> }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (["NestFleet", "bare"] as const) : (["bare", "NestFleet"] as const)
      for (const subject of order) {
        const figures = yield* measure(subject, concurrency, seconds)
        results[subject].push(figures)
        process.stdout.write(
          `  ${concurrency} clients, round ${round + 1}, ${subject}: ${figures.requestsPerSecond.toFixed(0)} req/s, ` +
            `p99 ${percentile(figures.latencies, 99).toFixed(1)} ms, server CPU ${ms(figures.cpuPerRequest)} ms a request, ` +
            `${figures.failures} not accepted\n`
        )
      }
    }
    const rate = (subject: Subject) => median(results[subject].map((figures) => figures.requestsPerSecond))
    const latency = (subject: Subject, rank: number) =>
      percentile(results[subject].flatMap((figures) => figures.latencies), rank)
    const cpu = (subject: Subject) => {
      const values = results[subject].flatMap((figures) => figures.cpuPerRequest === undefined ? [] : [figures.cpuPerRequest])
      return values.length === 0 ? undefined : median(values)
    }
    const failures = (subject: Subject) => String(results[subject].reduce((n, figures) => n + figures.failures, 0))
    const ratio = rate("NestFleet") / rate("bare")
    printTable([
      [`${concurrency} concurrent clients`, "NestFleet", "bare node:http + pg"],
      ["requests/s (median of rounds)", rate("NestFleet").toFixed(0), rate("bare").toFixed(0)],
      ["latency p50 (ms)", ms(latency("NestFleet", 50)), ms(latency("bare", 50))],
      ["latency p99 (ms)", ms(latency("NestFleet", 99)), ms(latency("bare", 99))],
      ["server CPU a request (ms)", ms(cpu("NestFleet")), ms(cpu("bare"))],
      ["not accepted", failures("NestFleet"), failures("bare")],
      ["NestFleet / bare", `${(100 * ratio).toFixed(1)}%`, "100%"]
    ])
    return { ratio, p99: latency("NestFleet", 99) }
  })

const program = Effect.gen(function*() {
  process.stdout.write(
    `ingest benchmark: ${settings.concurrency} concurrent clients sending new signed webhook deliveries ` +
      `(Standard Webhooks, generic JSON) for ${settings.durationSeconds} s after ${settings.warmUpSeconds} s of warm-up, ` +
      `${settings.rounds} rounds, each on a fresh database; then ${settings.overload.concurrency} clients for ` +
      `${settings.overload.durationSeconds} s, past saturation; servers in their own processes, this one only loads them\n` +
      `  NestFleet: the API process as deployed (LOG_LEVEL info, a JSON access log line a request, to a file; pool of 10)\n` +
      `  bare: node:http + pg (pool of 10) doing the same lookup, decryption, verification and inserts, ` +
      `and the triage job through pg-boss, with pg's defaults (unnamed statements)\n`
  )
  const { p99, ratio } = yield* compare(settings.rounds, settings.concurrency, settings.durationSeconds)
  process.stdout.write(
    `targets at ${settings.concurrency} clients: throughput at least 70% of bare: ${ratio >= 0.7 ? "met" : "MISSED"} ` +
      `(${(100 * ratio).toFixed(1)}%); p99 under 50 ms: ${p99 < 50 ? "met" : "MISSED"} (${p99.toFixed(1)} ms)\n`
  )
  yield* compare(1, settings.overload.concurrency, settings.overload.durationSeconds)
})

await Effect.runPromise(program)
