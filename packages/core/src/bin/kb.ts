/**
 * `pnpm kb import <dir> --product <slug>`: a folder of Markdown files into a product's
 * knowledge base, on the database `pnpm start` uses (the embedded one, or `DATABASE_URL`).
 *
 * Each file is one article, found again by its path on the next import (see MarkdownFolder):
 * a changed file becomes a new version, an unchanged one is left alone. Every write sends the
 * article's `embed_article` job in its own transaction; the worker embeds the passages, so
 * this process loads no model. An interrupted import is consistent file by file: run it again.
 *
 * It lives in core, not in apps/api, because it wires the database layer itself, which API
 * code other than main.ts may not (scripts/check-dependencies.ts), as `pnpm migrate` does in db.
 */
import { Llm, type LlmProvider } from "@nestfleet/ai/Llm"
import * as Database from "@nestfleet/db/Database"
import { DatabaseConfig } from "@nestfleet/db/DatabaseConfig"
import * as Migrator from "@nestfleet/db/Migrator"
import * as Sql from "@nestfleet/db/Sql"
import { type ArticleStatus, NewArticle } from "@nestfleet/domain/Knowledge"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { JobsConfig } from "@nestfleet/jobs/JobsConfig"
import { LoggingConfig } from "@nestfleet/observability/LoggingConfig"
import { runMain } from "@nestfleet/observability/Main"
import { TracingConfig } from "@nestfleet/observability/TracingConfig"
import { Config, Effect, Either, Layer, ParseResult, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { Knowledge } from "../Knowledge.js"
import * as MarkdownFolder from "../MarkdownFolder.js"
import { Products } from "../Products.js"

const usage = `Usage: pnpm kb import <dir> --product <slug> [options]

Imports the .md and .mdx files under <dir> (recursively) into the product's knowledge base.
Each file is an article stored under "<folder name>/<path>": importing again updates the
files that changed (a new version, embedded again) and leaves the others alone.

Options:
  --product <slug>      the product (required)
  --status <status>     published or draft: sets every imported article's status
                        (default: new articles published, existing ones keep theirs)
  --url-base <url>      sets each article's URL from its path: <url>/guides/install for
                        guides/install.md, <url>/guides/ for guides/index.md
  --prune               deletes the articles imported from this folder whose file is gone
  -h, --help            this text

Runs on the embedded database in NESTFLEET_DATA_DIR (default ./.nestfleet), which must not be
in use by a running NestFleet, or on the server at DATABASE_URL.
`

interface Options {
  readonly dir: string
  readonly product: string
  readonly status: ArticleStatus | undefined
  readonly urlBase: string | undefined
  readonly prune: boolean
}

const refuse = (message: string): never => {
  process.stderr.write(`pnpm kb: ${message}\n\n${usage}`)
  process.exit(2)
}

const parseOptions = (argv: ReadonlyArray<string>): Options => {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        product: { type: "string" },
        status: { type: "string" },
        "url-base": { type: "string" },
        prune: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false }
      }
    })
  } catch (error) {
    return refuse((error as Error).message)
  }
  const { positionals, values } = parsed
  if (values.help) {
    process.stdout.write(usage)
    process.exit(0)
  }
  const [command, dir, ...rest] = positionals
  if (command !== "import") return refuse(command === undefined ? "name a command" : `unknown command ${command}`)
  if (dir === undefined) return refuse("name the folder to import")
  if (rest.length > 0) return refuse(`unexpected arguments: ${rest.join(" ")}`)
  if (values.product === undefined || values.product === "") return refuse("--product <slug> is required")
  if (values.status !== undefined && values.status !== "published" && values.status !== "draft") {
    return refuse("--status is published or draft")
  }
  const urlBase = values["url-base"]
  if (urlBase !== undefined && !(URL.canParse(urlBase) && /^https?:$/.test(new URL(urlBase).protocol))) {
    return refuse("--url-base is an http(s) URL")
  }
  // pnpm runs the script at the repository's root; a relative folder is the caller's.
  const resolved = Path.resolve(process.env.INIT_CWD ?? process.cwd(), dir)
  if (!Fs.existsSync(resolved) || !Fs.statSync(resolved).isDirectory()) return refuse(`${dir} is not a folder`)
  return { dir: resolved, product: values.product, status: values.status, urlBase, prune: values.prune }
}

/** A file as read: its article, or why it cannot be one. */
interface Prepared {
  readonly sourcePath: string
  readonly article: Either.Either<NewArticle, string>
}

const decodeArticle = Schema.decodeUnknownEither(NewArticle)

const prepare = (options: Options, folder: string, file: MarkdownFolder.MarkdownFile): Prepared => {
  const sourcePath = MarkdownFolder.sourcePath(folder, file.relativePath)
  let content: string
  try {
    content = Fs.readFileSync(file.absolutePath, "utf8")
  } catch (error) {
    return { sourcePath, article: Either.left(`cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`) }
  }
  const { body, title } = MarkdownFolder.parse(file.relativePath, folder, content)
  const decoded = decodeArticle({
    title,
    body,
    ...(options.urlBase === undefined ? {} : { url: MarkdownFolder.urlFor(options.urlBase, file.relativePath) }),
    ...(options.status === undefined ? {} : { status: options.status })
  })
  return {
    sourcePath,
    article: Either.mapLeft(decoded, (error) =>
      ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.message).join("; "))
  }
}

/** A bar on a terminal; elsewhere (a log, CI), a line per file that changed and a count every 100 files. */
const makeProgress = (total: number) => {
  const tty = process.stderr.isTTY === true
  let done = 0
  const clear = () => process.stderr.write("\r\x1b[2K")
  const draw = (label: string) => {
    const width = 28
    const filled = total === 0 ? width : Math.round((width * done) / total)
    const line = `${"█".repeat(filled)}${"░".repeat(width - filled)} ${done}/${total} ${label}`
    clear()
    process.stderr.write(line.slice(0, Math.max(20, (process.stderr.columns ?? 80) - 1)))
  }
  return {
    /** A line that stays: above the bar on a terminal. */
    note: (line: string) => {
      if (tty) clear()
      process.stdout.write(`${line}\n`)
      if (tty) draw("")
    },
    advance: (path: string, outcome: string) => {
      done++
      if (tty) return draw(path)
      if (outcome === "created" || outcome === "updated") process.stdout.write(`${outcome} ${path}\n`)
      else if (done % 100 === 0) process.stdout.write(`… ${done}/${total} files\n`)
    },
    end: () => {
      if (tty) clear()
    }
  }
}

/** The import writes articles and sends jobs; it calls no model (the worker embeds, with the configured one). */
const noModel: LlmProvider = {
  name: "none",
  embedding: { model: "none", dimensions: 1 },
  complete: () => Effect.dieMessage("pnpm kb import calls no model"),
  embed: () => Effect.dieMessage("pnpm kb import calls no model")
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

const importFolder = (options: Options) =>
  Effect.gen(function*() {
    const knowledge = yield* Knowledge
    const products = yield* Products
    const { backend } = yield* Database.Database
    const product = yield* products.getBySlug(options.product)

    const folder = MarkdownFolder.folderName(options.dir)
    const files = MarkdownFolder.list(options.dir)
    const started = performance.now()
    process.stdout.write(
      `Importing ${plural(files.length, "Markdown file")} from ${options.dir} into ${product.name} (${product.slug}), ` +
        `as ${folder}/…\n`
    )
    const counts = { created: 0, updated: 0, unchanged: 0, skipped: 0, removed: 0 }
    let queued = 0
    const progress = makeProgress(files.length)
    const paths: Array<string> = []
    yield* Effect.gen(function*() {
      for (const file of files) {
        const prepared = prepare(options, folder, file)
        paths.push(prepared.sourcePath)
        if (Either.isLeft(prepared.article)) {
          counts.skipped++
          progress.note(`skipped ${prepared.sourcePath}: ${prepared.article.left}`)
          progress.advance(prepared.sourcePath, "skipped")
          continue
        }
        const imported = yield* knowledge.importArticle(product.id, prepared.sourcePath, prepared.article.right)
        counts[imported.outcome]++
        if (imported.embedding) queued++
        progress.advance(prepared.sourcePath, imported.outcome)
      }
    }).pipe(
      Effect.ensuring(Effect.sync(progress.end)),
      Effect.onInterrupt(() =>
        Effect.sync(() =>
          process.stdout.write(
            `Interrupted after ${plural(counts.created + counts.updated + counts.unchanged, "file")}; ` +
              `each file imported is complete. Run the same command again to go on.\n`
          )
        )
      )
    )

    // Articles whose file is gone: files skipped above are still there, so theirs stay.
    const stale = yield* knowledge.staleImports(product.id, `${folder}/`, paths, { remove: options.prune })
    if (options.prune) {
      counts.removed = stale.length
      for (const path of stale) process.stdout.write(`removed ${path}\n`)
    }

    const seconds = ((performance.now() - started) / 1000).toFixed(2)
    process.stdout.write(
      `Done in ${seconds} s: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged` +
        `${counts.skipped > 0 ? `, ${counts.skipped} skipped` : ""}${options.prune ? `, ${counts.removed} removed` : ""}.\n`
    )
    if (!options.prune && stale.length > 0) {
      process.stdout.write(
        `${plural(stale.length, "article")} imported from ${folder}/ earlier ${stale.length === 1 ? "has" : "have"} ` +
          `no file any more (${stale.slice(0, 3).join(", ")}${stale.length > 3 ? ", …" : ""}); --prune deletes them.\n`
      )
    }
    if (queued > 0) {
      const who = backend._tag === "Embedded"
        ? "the worker runs them when NestFleet starts on this data dir (pnpm start)"
        : "a running worker runs them (pnpm start, or pnpm start:worker)"
      process.stdout.write(
        `${plural(queued, "article")} to embed: each write queued an embed_article job in its transaction, and ${who}. ` +
          `Until then search finds ${queued === 1 ? "it" : "them"} by words only.\n`
      )
    }
    if (counts.skipped > 0) process.exitCode = 1
  })

/** What an operator can act on, said in a line; anything else is a crash with its log. */
const explain = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`pnpm kb import: ${message}\n`)
    process.exitCode = 1
  })

const options = parseOptions(process.argv.slice(2))

// Info logs (pg-boss starting, …) are the servers'; the import says what it does itself.
process.env.LOG_LEVEL ??= "warn"

const schemaReady = Layer.effectDiscard(Migrator.requireUpToDate)

const ImportLive = Layer.mergeAll(Knowledge.Default, Products.Default).pipe(
  Layer.provide(Llm.layerWith(noModel)),
  Layer.provideMerge(JobQueue.SendOnly),
  Layer.provide(schemaReady),
  Layer.provideMerge(Sql.layer),
  Layer.provideMerge(Database.layer)
)

runMain({
  service: "nestfleet-kb",
  config: Config.all([DatabaseConfig, JobsConfig, LoggingConfig, TracingConfig("nestfleet-kb")]),
  main: importFolder(options).pipe(
    Effect.provide(ImportLive),
    Effect.catchTags({
      ProductNotFound: (error) => explain(`${error.message}. Products are created in the console or the API.`),
      DataDirLocked: (error) =>
        explain(
          `the embedded database in ${error.dataDir} is in use by a running NestFleet (process ${error.pid}). ` +
            `Stop it and import again (the embedded database has one owner at a time), or import into a ` +
            `PostgreSQL server with DATABASE_URL.`
        ),
      DatabaseUnavailable: (error) => explain(error.message),
      MigrationsPending: (error) =>
        explain(
          error.names.includes("001_initial_schema")
            ? "there is no NestFleet database here yet: start NestFleet once (pnpm start) and create the product."
            : `${error.message}. Run pnpm migrate (or start NestFleet once) first.`
        ),
      JobQueueUnavailable: (error) => explain(error.message)
    })
  )
})
