/**
 * The API as an operator runs it: `tsx apps/api/src/main.ts`, a real process, configured
 * by environment variables and stopped by a signal.
 */
import { describe, expect, it } from "@effect/vitest"
import * as TcpProxy from "@nestfleet/db/testing/TcpProxy"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Effect, Fiber, Option, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const main = Path.join(import.meta.dirname, "../src/main.ts")

interface Started {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

const start = (env: Record<string, string>, args: ReadonlyArray<string> = []): Started => {
  const child = spawn(process.execPath, ["--import", "tsx", main, ...args], {
    env: { PATH: process.env.PATH!, LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const waitFor = async (predicate: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-process-"))

describe("the API process", () => {
  it.each([
    ["PORT", "eighty", "PORT"],
    ["DATABASE_URL", "mysql://db/nestfleet", "DATABASE_URL"],
    ["LOG_LEVEL", "loud", "LOG_LEVEL"],
    ["HTTP_MAX_BODY_BYTES", "-1", "HTTP_MAX_BODY_BYTES"],
    ["SHUTDOWN_TIMEOUT", "soon", "SHUTDOWN_TIMEOUT"],
    ["JWT_SECRET", "only-31-bytes-long-jwt-secret!!", "JWT_SECRET"],
    ["ENCRYPTION_KEY", "ab".repeat(31), "ENCRYPTION_KEY"],
    ["ADMIN_PASSWORD", "too-short", "ADMIN_PASSWORD"],
    ["COOKIE_SECURE", "maybe", "COOKIE_SECURE"]
  ])("refuses to start when %s is invalid, naming it", async (name, value, named) => {
    const started = start({ [name]: value, NESTFLEET_DATA_DIR: tempDir() })
    const code = await started.exited
    expect(code).toBe(1)
    expect(started.output()).toContain("invalid configuration")
    expect(started.output()).toMatch(new RegExp(`^  ${named}: `, "m"))
  }, 60_000)

  it("refuses to start on a PostgreSQL server without JWT_SECRET and ENCRYPTION_KEY, naming both, before connecting", async () => {
    const started = start({ DATABASE_URL: "postgresql://nestfleet@127.0.0.1:1/nowhere" })
    expect(await started.exited).toBe(1)
    expect(started.output()).toContain("invalid configuration")
    expect(started.output()).toMatch(/^  JWT_SECRET: .*required when DATABASE_URL is set/m)
    expect(started.output()).toMatch(/^  ENCRYPTION_KEY: .*required when DATABASE_URL is set/m)
  }, 60_000)

  it("refuses to start on a PostgreSQL server without ENCRYPTION_KEY: secrets are never stored in the clear", async () => {
    const started = start({
      DATABASE_URL: "postgresql://nestfleet@127.0.0.1:1/nowhere",
      JWT_SECRET: "process-test-jwt-secret-32-bytes-long"
    })
    expect(await started.exited).toBe(1)
    expect(started.output()).toMatch(/^  ENCRYPTION_KEY: .*required when DATABASE_URL is set/m)
    expect(started.output()).not.toMatch(/^  JWT_SECRET: /m)
  }, 60_000)

  it("serves on the embedded database, then stops cleanly on SIGTERM", async () => {
    const port = await freePort()
    const dataDir = tempDir()
    const started = start({ PORT: String(port), NESTFLEET_DATA_DIR: dataDir }, ["--with-worker"])
    try {
      await waitFor(() => started.output().includes("Listening on"), 60_000)
      const health = await fetch(`http://127.0.0.1:${port}/api/v1/health`)
      expect(health.status).toBe(200)
      const ready = await fetch(`http://127.0.0.1:${port}/api/v1/ready`)
      expect(await ready.json()).toMatchObject({ status: "ready", checks: { database: "up", queue: "up" } })
      started.child.kill("SIGTERM")
      expect(await started.exited).toBe(0)
      const lines = started.output().trim().split("\n").map((line) => JSON.parse(line) as { msg: string })
      const messages = lines.map((line) => line.msg)
      expect(messages).toContain("HTTP server stopped")
      expect(messages).toContain("Worker stopped")
      // The lock on the data dir is released for the next start.
      expect(Fs.existsSync(Path.join(dataDir, "nestfleet.lock"))).toBe(false)
      // With neither key configured, both were generated next to the database they protect.
      for (const keyFile of ["jwt.secret", "encryption.key"]) {
        expect(Fs.readFileSync(Path.join(dataDir, keyFile), "utf8")).toMatch(/^[0-9a-f]{64}\n$/)
      }
    } finally {
      started.child.kill("SIGKILL")
    }
  }, 90_000)

  it("on a database without users, creates the first admin with a generated password printed once", async () => {
    const dataDir = tempDir()
    const signIn = (port: number, password: string) =>
      fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "admin@nestfleet.local", password })
      })
    const runOnce = async (check: (port: number, output: string) => Promise<void>) => {
      const port = await freePort()
      const started = start({ PORT: String(port), NESTFLEET_DATA_DIR: dataDir })
      try {
        await waitFor(() => started.output().includes("Listening on"), 60_000)
        await check(port, started.output())
        started.child.kill("SIGTERM")
        expect(await started.exited).toBe(0)
      } finally {
        started.child.kill("SIGKILL")
      }
    }
    let password = ""
    await runOnce(async (port, output) => {
      const printed = /Created the first admin, admin@nestfleet\.local, with the generated password (\S+) /.exec(output)
      expect(printed).not.toBeNull()
      password = printed![1]!
      expect(password.length).toBeGreaterThanOrEqual(24)
      expect((await signIn(port, password)).status).toBe(200)
    })
    await runOnce(async (port, output) => {
      expect(output).not.toContain("Created the first admin")
      expect(output).not.toContain(password)
      expect((await signIn(port, password)).status).toBe(200)
    })
  }, 120_000)

  // Slowing the database down needs a server behind a proxy (see Http.test.ts).
  it.live.skipIf(Option.isNone(TestDatabase.serverUrl))(
    "on SIGTERM, finishes the request in flight, then exits 0 (needs a server: TEST_DATABASE_URL)",
    () =>
      Effect.gen(function*() {
        const { proxy, url } = yield* TestDatabase.createProxiedServerDatabase(Option.getOrThrow(TestDatabase.serverUrl))
        const port = yield* Effect.promise(freePort)
        const started = start(
          {
            PORT: String(port),
            DATABASE_URL: Redacted.value(url),
            JWT_SECRET: "process-test-jwt-secret-32-bytes-long",
            ENCRYPTION_KEY: "7a".repeat(32)
          },
          ["--with-worker"]
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => started.child.kill("SIGKILL")))
        yield* Effect.promise(() => waitFor(() => started.output().includes("Listening on"), 60_000))

        yield* proxy.setDelay(400)
        const inFlight = yield* TcpProxy.forkInFlight(
          proxy,
          Effect.promise(() => fetch(`http://127.0.0.1:${port}/api/v1/ready`))
        )
        // The worker's pipeline steps poll through the proxy too, so the traffic seen may be
        // theirs: give the request time to reach its handler. It cannot finish sooner than the
        // proxy's 400 ms, so it is still in flight when the signal comes.
        yield* Effect.sleep("100 millis")
        started.child.kill("SIGTERM")
        const response = yield* Fiber.join(inFlight)
        expect(response.status).toBe(200)
        expect(yield* Effect.promise(() => started.exited)).toBe(0)
        expect(started.output()).toContain("HTTP server draining 1 request(s)")
      }).pipe(Effect.scoped),
    120_000
  )
})
