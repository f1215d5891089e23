/**
 * A whole NestFleet — API and worker in one process, as `pnpm start` runs it — for an
 * evaluation (and `pnpm bench pipeline`): on a fresh embedded database in a temporary folder, or on the database at
 * EVAL_DATABASE_URL (which should be empty: the run adds a product, articles and cases). The
 * evaluation talks to it over HTTP only, as any client would.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHmac, randomBytes, randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(fileURLToPath(import.meta.url), "../../..")
const admin = { email: "eval@nestfleet.test", password: "eval-admin-password" }

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

export interface Answer<A = unknown> {
  readonly status: number
  readonly body: A
}

export interface NestFleet {
  readonly url: string
  /** The process's id (its CPU time is read by benchmarks). */
  readonly pid: number
  /** A request as the first admin; `body` is sent as JSON. */
  readonly call: <A = unknown>(path: string, init?: { readonly method?: string; readonly body?: unknown }) => Promise<Answer<A>>
  /** A message delivered to a generic webhook channel, signed with its secret (Standard Webhooks). */
  readonly deliver: (channelId: string, secret: string, payload: unknown) => Promise<Answer<{ caseId: string }>>
  /** The end of the process's log: what to show when a run fails. */
  readonly logTail: () => string
  readonly stop: () => Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * `fetch`, tried again when the connection is reset: a kept-alive socket the server closed
 * as it was reused. Only for requests that may be repeated (reads, and webhooks, which the
 * server deduplicates by their id).
 */
const fetchAgain = async (url: string, init: RequestInit, attempts = 3): Promise<Response> => {
  try {
    return await fetch(url, init)
  } catch (error) {
    if (attempts <= 1) throw error
    await sleep(100)
    return fetchAgain(url, init, attempts - 1)
  }
}

/**
 * Starts NestFleet on `databaseUrl` (a database it may fill), or by default on EVAL_DATABASE_URL,
 * else on a fresh embedded database in a temporary folder.
 */
export const start = async (
  options: { readonly databaseUrl?: string; readonly env?: Readonly<Record<string, string>> } = {}
): Promise<NestFleet> => {
  const port = await freePort()
  const workDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-eval-"))
  const logFile = Path.join(workDir, "server.log")
  const log = Fs.openSync(logFile, "w")
  const databaseUrl = options.databaseUrl ?? process.env.EVAL_DATABASE_URL
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "apps/api/src/main.ts", "--with-worker"], {
    cwd: root,
    env: {
      PATH: process.env.PATH!,
      PORT: String(port),
      HOST: "127.0.0.1",
      NESTFLEET_DATA_DIR: Path.join(workDir, "data"),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      JWT_SECRET: randomBytes(32).toString("hex"),
      ENCRYPTION_KEY: randomBytes(32).toString("hex"),
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      LOG_FORMAT: "json",
      LOG_LEVEL: "warn",
      ...options.env
    },
    stdio: ["ignore", log, log]
  })
  Fs.closeSync(log)
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const output = () => Fs.readFileSync(logFile, "utf8").slice(-20_000)
  const deadline = Date.now() + 120_000
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`NestFleet did not start:\n${output()}`)
    const ready = await fetch(`${url}/api/v1/ready`).then((response) => response.ok, () => false)
    if (ready) break
    await sleep(200)
  }

  const request = async <A>(path: string, init: { readonly method?: string; readonly body?: unknown; readonly token?: string }) => {
    const method = init.method ?? "GET"
    const response = await (method === "GET" ? fetchAgain : fetch)(`${url}${path}`, {
      method,
      headers: {
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {})
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
    })
    const text = await response.text()
    return { status: response.status, body: (text === "" ? null : JSON.parse(text)) as A }
  }
  const signIn = await request<{ accessToken: string }>("/api/v1/auth/login", { method: "POST", body: admin })
  if (signIn.status !== 200) throw new Error(`sign-in answered ${signIn.status}`)
  let token = signIn.body.accessToken
  let signedInAt = Date.now()

  const call = async <A>(path: string, init: { readonly method?: string; readonly body?: unknown } = {}) => {
    // Access tokens last about 15 minutes; an evaluation may run longer.
    if (Date.now() - signedInAt > 10 * 60_000) {
      token = (await request<{ accessToken: string }>("/api/v1/auth/login", { method: "POST", body: admin })).body.accessToken
      signedInAt = Date.now()
    }
    return request<A>(path, { ...init, token })
  }

  const deliver = async (channelId: string, secret: string, payload: unknown) => {
    const body = JSON.stringify(payload)
    const id = `msg_${randomUUID()}`
    const timestamp = Math.floor(Date.now() / 1000)
    const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64")
    const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")
    const response = await fetchAgain(`${url}/api/v1/webhooks/${channelId}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": `v1,${signature}`
      },
      body
    })
    return { status: response.status, body: await response.json() as { caseId: string } }
  }

  return {
    url,
    pid: child.pid!,
    call,
    deliver,
    logTail: output,
    stop: async () => {
      child.kill("SIGTERM")
      await exited
      Fs.rmSync(workDir, { recursive: true, force: true })
    }
  }
}

/** Polls `probe` until it answers something, every `everyMs`, for at most `timeoutMs`. */
export const eventually = async <A>(probe: () => Promise<A | undefined>, timeoutMs = 120_000, everyMs = 200) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const answer = await probe()
    if (answer !== undefined) return answer
    if (Date.now() > deadline) throw new Error("timed out waiting for the pipeline")
    await sleep(everyMs)
  }
}

/** Runs `work` over `items`, `concurrency` at a time, in order of completion; reports progress on stderr. */
export const forEachLimited = async <A>(
  items: ReadonlyArray<A>,
  concurrency: number,
  label: string,
  work: (item: A) => Promise<void>
) => {
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!
      await work(item)
      done++
      if (done % 10 === 0 || done === items.length) {
        process.stderr.write(process.stderr.isTTY ? `\r${label}: ${done}/${items.length}` : `${label}: ${done}/${items.length}\n`)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  if (process.stderr.isTTY) process.stderr.write("\n")
}
