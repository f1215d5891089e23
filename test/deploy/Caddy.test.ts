/**
 * The deployment files, checked with the real tools: docker-compose.yml with
 * `docker-compose config`, the Caddyfile with `caddy validate`, and then real Caddy in front
 * of the real API process (embedded database), as a browser would reach them.
 *
 * Needs `caddy` and `docker-compose` on PATH: scripts/install-system-packages.sh.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { promisify } from "node:util"

const root = Path.join(import.meta.dirname, "../..")
const caddyfile = Path.join(root, "Caddyfile")
const composeFile = Path.join(root, "docker-compose.yml")

const run = promisify(execFile)

interface Started {
  readonly name: string
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

const start = (name: string, command: string, args: ReadonlyArray<string>, env: Record<string, string>): Started => {
  const child = spawn(command, args, { cwd: root, env: { PATH: process.env.PATH!, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => resolve(code))
    child.on("error", (error) => {
      output += `\n${error.message}`
      resolve(null)
    })
  })
  return { name, child, output: () => output, exited }
}

const hasExited = (started: Started) => started.child.exitCode !== null || started.child.signalCode !== null

/** SIGTERM, then SIGKILL when the process has not exited within the grace period. */
const stop = async (started: Started | undefined, graceMs = 10_000) => {
  if (started === undefined || started.child.pid === undefined || hasExited(started)) return
  started.child.kill("SIGTERM")
  const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), graceMs).unref())
  if (await Promise.race([started.exited, timer]) === "timeout") {
    started.child.kill("SIGKILL")
    await started.exited
  }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer().on("error", reject).listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Polls until `ready` holds; fails early, with the process output, when the process exits. */
const waitUntil = async (started: Started, ready: () => boolean | Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await ready())) {
    if (hasExited(started)) throw new Error(`${started.name} exited before it was ready:\n${started.output()}`)
    if (Date.now() > deadline) throw new Error(`${started.name} was not ready in ${timeoutMs} ms:\n${started.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const tempDirs: Array<string> = []
const tempDir = (prefix: string) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), `nestfleet-${prefix}-`))
  tempDirs.push(dir)
  return dir
}

/** Runs the repository's Caddyfile on a free port of 127.0.0.1 over plain HTTP; resolves once it answers. */
const startCaddy = async (upstreams: { readonly api: string; readonly console: string }) => {
  const url = `http://127.0.0.1:${await freePort()}`
  const caddy = start("Caddy", "caddy", ["run", "--config", caddyfile, "--adapter", "caddyfile"], {
    ...caddyHome(),
    NESTFLEET_SITE_ADDRESS: url,
    NESTFLEET_API_UPSTREAM: upstreams.api,
    NESTFLEET_CONSOLE_UPSTREAM: upstreams.console,
    NESTFLEET_CADDY_ADMIN: "off"
  })
  await waitUntil(caddy, () => fetch(`${url}/`).then((response) => response.body?.cancel().then(() => true) ?? true, () => false), 30_000)
  return { caddy, url }
}

/** Caddy's state (certificates, autosaved config) goes to a temporary home, never the user's. */
const caddyHome = () => {
  const home = tempDir("caddy")
  return { HOME: home, XDG_DATA_HOME: Path.join(home, "data"), XDG_CONFIG_HOME: Path.join(home, "config") }
}

interface ComposeConfig {
  readonly services: Record<
    string,
    { readonly image?: string; readonly depends_on?: unknown; readonly environment?: Record<string, string> }
  >
}

/**
 * `docker-compose config` (exit 0 = valid), parsed. docker-compose 1.29 prints YAML only;
 * it is a Python program that depends on PyYAML, so python3 turns that into JSON. Where
 * `docker-compose` is Compose v2 instead, it prints JSON itself.
 */
const composeSecrets = { JWT_SECRET: "c".repeat(64), ENCRYPTION_KEY: "e".repeat(64) }

const composeConfig = async (): Promise<ComposeConfig> => {
  const env = { PATH: process.env.PATH!, HOME: tempDir("compose"), ...composeSecrets }
  const { stdout: yaml } = await run("docker-compose", ["-f", composeFile, "config"], { cwd: root, env })
  const json = await pipe("python3", ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"], yaml)
    .catch(() => run("docker-compose", ["-f", composeFile, "config", "--format", "json"], { cwd: root, env }).then((_) => _.stdout))
  return JSON.parse(json) as ComposeConfig
}

/** Runs a command with `input` on its stdin; its stdout, or a failure when it exits non-zero. */
const pipe = (command: string, args: ReadonlyArray<string>, input: string) =>
  new Promise<string>((resolve, reject) => {
    const child = execFile(command, args, { env: { PATH: process.env.PATH! } }, (error, stdout) =>
      error === null ? resolve(stdout) : reject(error))
    child.stdin!.end(input)
  })

const admin = { email: "admin@nestfleet.local", password: "caddy-test-admin-password" }

const signIn = (url: string, credentials: { email: string; password: string }, headers: Record<string, string> = {}) =>
  fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(credentials)
  })

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

// Runs after every describe's afterAll, so no process is still using these.
afterAll(() => {
  for (const dir of tempDirs) Fs.rmSync(dir, { recursive: true, force: true })
})

describe("the deployment files", () => {
  it("docker-compose.yml is a valid compose file with the whole stack", async () => {
    const config = await composeConfig()
    expect(Object.keys(config.services)).toEqual(expect.arrayContaining(["postgres", "api", "worker", "caddy"]))
    expect(config.services["postgres"]?.image).toMatch(/^pgvector\/pgvector:pg16$/)
    // The worker starts once the API is healthy, that is once the migrations are applied.
    expect(config.services["worker"]?.depends_on).toMatchObject({ api: { condition: "service_healthy" } })
    expect(config.services["api"]?.environment).toMatchObject({ ...composeSecrets, TRUST_PROXY: "true" })
    expect(config.services["worker"]?.environment).toMatchObject({ ENCRYPTION_KEY: composeSecrets.ENCRYPTION_KEY })
  }, 60_000)

  it.each(["JWT_SECRET", "ENCRYPTION_KEY"])("docker-compose.yml refuses to run without %s, naming it", async (name) => {
    const env = { PATH: process.env.PATH!, HOME: tempDir("compose"), ...composeSecrets, [name]: "" }
    const failure = await run("docker-compose", ["-f", composeFile, "config"], { cwd: root, env }).then(
      () => "accepted",
      (error: { stderr?: string; message: string }) => `${error.stderr ?? ""} ${error.message}`
    )
    expect(failure).toContain(`set ${name} to`)
  }, 60_000)

  it("the Caddyfile is valid", async () => {
    const { stdout, stderr } = await run("caddy", ["validate", "--config", caddyfile, "--adapter", "caddyfile"], {
      cwd: root,
      env: { PATH: process.env.PATH!, ...caddyHome() }
    })
    expect(stdout + stderr).toContain("Valid configuration")
  }, 60_000)
})

describe("Caddy in front of the API", () => {
  let api: Started | undefined
  let caddy: Started | undefined
  let caddyUrl = ""

  beforeAll(async () => {
    const apiPort = await freePort()
    api = start("the API", process.execPath, ["--import", "tsx", "apps/api/src/main.ts", "--with-worker"], {
      PORT: String(apiPort),
      NESTFLEET_DATA_DIR: tempDir("deploy"),
      LOG_FORMAT: "json",
      SHUTDOWN_TIMEOUT: "5 seconds",
      // As docker-compose.yml runs it: behind Caddy, which appends the client to X-Forwarded-For.
      TRUST_PROXY: "true",
      ADMIN_PASSWORD: admin.password,
      LOGIN_MAX_FAILURES_PER_ADDRESS: "3"
    })
    const startedApi = api
    await waitUntil(startedApi, () => startedApi.output().includes("Listening on"), 90_000)

    const started = await startCaddy({ api: `127.0.0.1:${apiPort}`, console: `127.0.0.1:${await freePort()}` })
    caddy = started.caddy
    caddyUrl = started.url
  }, 120_000)

  afterAll(async () => {
    await Promise.all([stop(caddy), stop(api)])
  }, 30_000)

  it("sends /api/* to the API, and the response carries a request id", async () => {
    const response = await fetch(`${caddyUrl}/api/v1/health`)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ status: "ok" })
    expect(response.headers.get("x-request-id")).toMatch(uuid)

    const ready = await fetch(`${caddyUrl}/api/v1/ready`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: "ready" })
  })

  it("keeps a caller's request id the API accepts, and replaces one it would not", async () => {
    const kept = await fetch(`${caddyUrl}/api/v1/health`, { headers: { "x-request-id": "edge-test:0001" } })
    expect(kept.headers.get("x-request-id")).toBe("edge-test:0001")

    const replaced = await fetch(`${caddyUrl}/api/v1/health`, { headers: { "x-request-id": "short" } })
    expect(replaced.status).toBe(200)
    expect(replaced.headers.get("x-request-id")).toMatch(uuid)
  })

  it("signs in through the proxy, and throttles the client's real address whatever X-Forwarded-For it sends", async () => {
    const signedIn = await signIn(caddyUrl, admin)
    expect(signedIn.status).toBe(200)
    expect(signedIn.headers.getSetCookie().join()).toMatch(/nestfleet_refresh=.*Path=\/api\/v1\/auth/)

    for (let i = 0; i < 3; i++) {
      const failed = await signIn(caddyUrl, { email: `nobody${i}@example.com`, password: "guessing-password" }, {
        "x-forwarded-for": `203.0.113.${i + 1}`
      })
      expect(failed.status).toBe(401)
    }
    const blocked = await signIn(caddyUrl, admin, { "x-forwarded-for": "203.0.113.99" })
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0)
  })

  it("sends everything else to the console upstream (502 while nothing listens there)", async () => {
    const response = await fetch(`${caddyUrl}/cases`)
    expect(response.status).toBe(502)
    const rootPage = await fetch(`${caddyUrl}/`)
    expect(rootPage.status).toBe(502)
    // Only the /api/ prefix is the API's.
    const lookalike = await fetch(`${caddyUrl}/apix/v1/health`)
    expect(lookalike.status).toBe(502)
  })
})


describe("the request id Caddy sends upstream", () => {
  let caddy: Started | undefined
  let server: Http.Server | undefined
  let caddyUrl = ""

  // An upstream that answers with the x-request-id it received, so what Caddy does is seen
  // apart from what the API would do on its own.
  beforeAll(async () => {
    const echo = Http.createServer((request, response) => {
      response.setHeader("content-type", "application/json")
      response.end(JSON.stringify({ requestId: request.headers["x-request-id"] ?? null }))
    })
    server = echo
    const port = await new Promise<number>((resolve) =>
      echo.listen(0, "127.0.0.1", () => resolve((echo.address() as Net.AddressInfo).port)))
    const started = await startCaddy({ api: `127.0.0.1:${port}`, console: `127.0.0.1:${port}` })
    caddy = started.caddy
    caddyUrl = started.url
  }, 60_000)

  afterAll(async () => {
    await stop(caddy)
    await new Promise((resolve) => server === undefined ? resolve(undefined) : server.close(resolve))
  }, 30_000)

  const received = async (path: string, requestId?: string) => {
    const response = await fetch(`${caddyUrl}${path}`, requestId === undefined ? {} : { headers: { "x-request-id": requestId } })
    expect(response.status).toBe(200)
    return ((await response.json()) as { requestId: string | null }).requestId
  }

  it("assigns one when the caller sent none, on every route", async () => {
    const first = await received("/api/v1/health")
    const second = await received("/api/v1/health")
    expect(first).toMatch(uuid)
    expect(second).toMatch(uuid)
    expect(first).not.toBe(second)
    expect(await received("/cases")).toMatch(uuid)
  })

  it.each([
    ["the shortest plain token", "abcd1234"],
    ["a plain token", "edge-test:0001"],
    ["the longest plain token", "A.b_c-d:e".padEnd(64, "x")]
  ])("keeps %s", async (_label, requestId) => {
    expect(await received("/api/v1/health", requestId)).toBe(requestId)
  })

  it.each([
    ["a too short id", "short"],
    ["an id with spaces", "has spaces in it"],
    ["an id with other characters", "semi;colon;id"],
    ["a too long id", "x".repeat(65)]
  ])("replaces %s, which the API would not accept", async (_label, requestId) => {
    expect(await received("/api/v1/health", requestId)).toMatch(uuid)
  })
})
