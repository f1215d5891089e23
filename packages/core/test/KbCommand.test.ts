/**
 * `pnpm kb import` as an operator runs it: `tsx packages/core/src/bin/kb.ts`, a real process,
 * on a folder of files and a database — the embedded one in a data dir, and (with
 * `TEST_DATABASE_URL`) a server. Run twice, it updates what changed and prunes what is gone;
 * it refuses a data dir a running NestFleet holds; and the jobs it queued are worked when
 * NestFleet starts on that data dir.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import * as Database from "@nestfleet/db/Database"
import * as Migrator from "@nestfleet/db/Migrator"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import * as Sql from "@nestfleet/db/Sql"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { ProductSettings } from "@nestfleet/domain/Products"
import { Effect, Layer, Option, Redacted } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const bin = Path.join(import.meta.dirname, "../src/bin/kb.ts")
const apiMain = Path.join(import.meta.dirname, "../../../apps/api/src/main.ts")

type Target = { readonly _tag: "Embedded"; readonly dataDir: string } | { readonly _tag: "Server"; readonly url: string }

const envOf = (target: Target): Record<string, string> =>
  target._tag === "Embedded" ? { NESTFLEET_DATA_DIR: target.dataDir } : { DATABASE_URL: target.url }

const databaseOf = (target: Target) =>
  target._tag === "Embedded"
    ? Database.layerEmbedded({ dataDir: target.dataDir })
    : Database.layerServer({ url: Redacted.make(target.url), poolMax: 2 })

/** The target's database, held for the life of the scope (on the embedded one: its lock too). */
const open = (target: Target) =>
  Layer.build(ProductsRepo.Default.pipe(Layer.provideMerge(Sql.layer), Layer.provideMerge(databaseOf(target)), Layer.orDie))

const withDatabase = <A, E>(target: Target, effect: Effect.Effect<A, E, SqlClient.SqlClient | ProductsRepo>) =>
  Effect.scoped(Effect.flatMap(open(target), (context) => Effect.provide(effect, context)))

/** A migrated database with the product `docs-test`. */
const prepare = (target: Target) =>
  withDatabase(
    target,
    Effect.zipRight(
      Migrator.migrateDirectory.pipe(Effect.orDie),
      Effect.flatMap(ProductsRepo, (repo) => repo.insert({ name: "Docs test", slug: "docs-test", settings: ProductSettings.defaults }))
    )
  )

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const run = (target: Target, args: ReadonlyArray<string>) =>
  Effect.promise(() =>
    new Promise<Run>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", bin, ...args], {
        env: { PATH: process.env.PATH!, LOG_FORMAT: "json", ...envOf(target) },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk) => (stdout += chunk))
      child.stderr.on("data", (chunk) => (stderr += chunk))
      child.on("exit", (code) => resolve({ code, stdout, stderr }))
    })
  )

const write = (root: string, files: Record<string, string>) => {
  for (const [path, content] of Object.entries(files)) {
    Fs.mkdirSync(Path.dirname(Path.join(root, path)), { recursive: true })
    Fs.writeFileSync(Path.join(root, path), content)
  }
}

const tempDir = (name: string) => Fs.mkdtempSync(Path.join(Os.tmpdir(), `nestfleet-kb-${name}-`))

interface ArticleState {
  readonly sourcePath: string
  readonly title: string
  readonly url: string | null
  readonly status: string
  readonly version: number
  readonly embeddingState: string
}

const articles = (target: Target) =>
  withDatabase(
    target,
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<ArticleState>`
        select source_path, title, url, status, version, embedding_state from articles order by source_path`)
  ).pipe(Effect.orDie)

const embedJobs = (target: Target) =>
  withDatabase(
    target,
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = 'embed_article'`)
  ).pipe(Effect.map((rows) => rows[0]!.n), Effect.orDie)

/** Imports a folder, changes it, imports it again with --prune; answers the folder. */
const importTwice = (target: Target) =>
  Effect.gen(function*() {
    const docs = Path.join(tempDir("folder"), "docs")
    write(docs, {
      "guides/install.md": "---\nsidebar_position: 1\n---\n# Installing Acme\n\nRun the installer.\n\n## Linux\n\nUse the tarball.\n",
      "guides/index.md": "---\ntitle: \"Guides\"\n---\nEverything about setting Acme up.\n",
      "billing-faq.mdx": "Plans are billed monthly.\n",
      "empty.md": "  \n",
      "notes.txt": "not Markdown",
      ".drafts/secret.md": "# Hidden\n\nNot imported.\n",
      "node_modules/pkg/README.md": "# A dependency\n\nNot imported.\n"
    })

    const first = yield* run(target, ["import", docs, "--product", "docs-test", "--url-base", "https://docs.example.com/"])
    expect(first.stderr).toBe("")
    expect(first.stdout).toContain("Importing 4 Markdown files")
    expect(first.stdout).toContain("skipped docs/empty.md: A body cannot be empty")
    expect(first.stdout).toContain("3 created, 0 updated, 0 unchanged, 1 skipped")
    expect(first.stdout).toMatch(/3 articles to embed: each write queued an embed_article job in its transaction/)
    expect(first.code).toBe(1) // a file was skipped
    expect(yield* articles(target)).toEqual([
      expect.objectContaining({ sourcePath: "docs/billing-faq.mdx", title: "Billing faq", url: "https://docs.example.com/billing-faq" }),
      expect.objectContaining({ sourcePath: "docs/guides/index.md", title: "Guides", url: "https://docs.example.com/guides/" }),
      expect.objectContaining({
        sourcePath: "docs/guides/install.md",
        title: "Installing Acme",
        url: "https://docs.example.com/guides/install",
        status: "published",
        version: 1,
        embeddingState: "pending"
      })
    ])
    expect(yield* embedJobs(target)).toBe(3)

    Fs.appendFileSync(Path.join(docs, "guides/install.md"), "\n## Windows\n\nUse the MSI.\n")
    Fs.rmSync(Path.join(docs, "billing-faq.mdx"))
    Fs.rmSync(Path.join(docs, "empty.md"))
    write(docs, { "sso.md": "# Single sign-on\n\nConnect your identity provider.\n" })

    const unpruned = yield* run(target, ["import", docs, "--product", "docs-test"])
    expect(unpruned.code).toBe(0)
    expect(unpruned.stdout).toContain("1 created, 1 updated, 1 unchanged.")
    expect(unpruned.stdout).toContain("1 article imported from docs/ earlier has no file any more (docs/billing-faq.mdx); --prune deletes them.")

    const pruned = yield* run(target, ["import", docs, "--product", "docs-test", "--prune", "--status", "draft"])
    expect(pruned.code).toBe(0)
    expect(pruned.stdout).toContain("removed docs/billing-faq.mdx")
    expect(pruned.stdout).toContain("0 created, 3 updated, 0 unchanged, 1 removed.")
    expect(pruned.stdout).not.toContain("to embed") // only the status changed
    const after = yield* articles(target)
    expect(after.map((a) => [a.sourcePath, a.version, a.status])).toEqual([
      ["docs/guides/index.md", 1, "draft"],
      ["docs/guides/install.md", 2, "draft"],
      ["docs/sso.md", 1, "draft"]
    ])
    // Without --url-base the URLs stay as the first import set them.
    expect(after[1]!.url).toBe("https://docs.example.com/guides/install")
    expect(yield* embedJobs(target)).toBe(5)
    return docs
  })

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

describe("pnpm kb import", () => {
  it.live("refuses bad arguments with the usage, and an unknown product by name", () =>
    Effect.gen(function*() {
      const target: Target = { _tag: "Embedded", dataDir: tempDir("data") }
      const missing = yield* run(target, ["import", tempDir("folder")])
      expect(missing.code).toBe(2)
      expect(missing.stderr).toContain("--product <slug> is required")
      expect(missing.stderr).toContain("Usage: pnpm kb import <dir> --product <slug>")
      const status = yield* run(target, ["import", tempDir("folder"), "--product", "p", "--status", "live"])
      expect(status.code).toBe(2)
      expect(status.stderr).toContain("--status is published or draft")

      yield* prepare(target)
      const unknown = yield* run(target, ["import", tempDir("folder"), "--product", "nope"])
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toContain("No product has the slug nope")
    }), 60_000)

  it.live("on the embedded database: imports, updates and prunes; refuses while NestFleet holds the data dir; the worker embeds at start", () =>
    Effect.gen(function*() {
      const target: Target = { _tag: "Embedded", dataDir: tempDir("data") }
      const product = yield* prepare(target)
      const docs = yield* importTwice(target)

      // A running NestFleet holds the data dir (here, this process does, as the server would).
      const refused = yield* Effect.scoped(Effect.zipRight(open(target), run(target, ["import", docs, "--product", "docs-test"])))
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain(`is in use by a running NestFleet (process ${process.pid})`)
      expect(refused.stdout).toBe("")

      // NestFleet starting on the data dir works the queued embed_article jobs.
      const port = yield* Effect.promise(freePort)
      const admin = { email: "admin@nestfleet.local", password: "kb-command-test-password" }
      const server = spawn(process.execPath, ["--import", "tsx", apiMain, "--with-worker"], {
        env: {
          PATH: process.env.PATH!,
          LOG_FORMAT: "json",
          PORT: String(port),
          NESTFLEET_DATA_DIR: target.dataDir,
          ADMIN_PASSWORD: admin.password
        },
        stdio: "ignore"
      })
      const exited = new Promise((resolve) => server.on("exit", resolve))
      const base = `http://127.0.0.1:${port}/api/v1`
      const states = yield* Effect.promise(async () => {
        const deadline = Date.now() + 120_000
        let token: string | undefined
        for (;;) {
          if (Date.now() > deadline) throw new Error("the articles were not embedded in time")
          await new Promise((resolve) => setTimeout(resolve, 250))
          if (token === undefined) {
            const login = await fetch(`${base}/auth/login`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(admin)
            }).catch(() => undefined)
            if (login?.ok !== true) continue
            token = ((await login.json()) as { accessToken: string }).accessToken
          }
          const page = await fetch(`${base}/products/${product.id}/articles`, { headers: { authorization: `Bearer ${token}` } })
          const items = ((await page.json()) as { items: Array<{ embeddingState: string }> }).items
          if (items.length === 3 && items.every((item) => item.embeddingState === "ready")) return items.map((i) => i.embeddingState)
        }
      }).pipe(Effect.ensuring(Effect.promise(() => {
        server.kill("SIGTERM")
        return exited
      })))
      expect(states).toEqual(["ready", "ready", "ready"])
    }), 180_000)

  it.live.skipIf(Option.isNone(TestDatabase.serverUrl))("on a PostgreSQL server: imports, updates and prunes", () =>
    Effect.scoped(Effect.gen(function*() {
      const { url } = yield* TestDatabase.createServerDatabase(Option.getOrThrow(TestDatabase.serverUrl))
      const target: Target = { _tag: "Server", url: Redacted.value(url) }
      yield* prepare(target)
      yield* importTwice(target)
    })), 120_000)
})
