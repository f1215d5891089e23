/**
 * The measuring half of `pnpm bench kb` (bench/kb/main.ts starts it in a process of its own and
 * prints what it writes).
 *
 * 1. Embedding throughput: the builtin model (USE-lite) on real passages — documentation
 *    pages from eval/retrieval/articles.jsonl cut by the product's own chunker — through
 *    `BuiltinEmbeddings.embed`, as the worker's `embed_article` job calls it.
 * 2. Search latency on corpora of about 10k and 100k passages, each in a fresh database on
 *    the server: the real passages' real vectors once, plus copies of the same pages (as if
 *    several versions of each product's docs were kept, across four tenants of seven products
 *    each) whose vectors are the originals plus Gaussian noise, re-normalised. Queries are
 *    real questions (eval/retrieval/questions.jsonl) embedded for real, searched in their
 *    product: short (the question's first line, as a person types into search) and long (the
 *    whole question, as known-issue matching sends a case's text).
 *
 * Usage: tsx bench/kb/KnowledgeSearch.ts <results.json>
 * Environment: BENCH_DATABASE_URL or TEST_DATABASE_URL (an admin URL), BENCH_KB_SCALES
 * (default "10000,100000"), BENCH_KB_ROUNDS (default 3), BENCH_KB_KEEP=1 keeps the databases.
 */
import { SqlClient } from "@effect/sql"
import * as BuiltinEmbeddings from "@nestfleet/ai/BuiltinEmbeddings"
import * as BuiltinProvider from "@nestfleet/ai/BuiltinProvider"
import * as Database from "@nestfleet/db/Database"
import { EmbeddingSpacesRepo } from "@nestfleet/db/EmbeddingSpacesRepo"
import { KnowledgeRepo, vectorLiteral, type SpaceVector } from "@nestfleet/db/KnowledgeRepo"
import * as Migrator from "@nestfleet/db/Migrator"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import * as Sql from "@nestfleet/db/Sql"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Transactions } from "@nestfleet/db/Transactions"
import type { ProductId } from "@nestfleet/domain/Products"
import { ProductSettings } from "@nestfleet/domain/Products"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Option, Redacted, Scope } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ArticleChunks from "@nestfleet/core/ArticleChunks"
import { Embeddings } from "@nestfleet/core/Embeddings"
import { candidatesPerHalf, Knowledge } from "@nestfleet/core/Knowledge"
import * as RetrievalDataset from "../../eval/lib/RetrievalDataset.js"

const settings = {
  scales: (process.env.BENCH_KB_SCALES ?? "10000,100000").split(",").map(Number),
  rounds: Number(process.env.BENCH_KB_ROUNDS ?? 3),
  /** Passages with real vectors: whole pages, the questions' answers first, until this many. */
  basePassages: 3000,
  /** Passages embedded, timed, for the throughput figure. */
  throughputSample: 320,
  tenants: 4,
  /** Per-dimension standard deviation of the noise added to a copy's vector (before re-normalising). */
  noiseSigma: 0.02,
  /** Noise vectors made once and combined with every base vector. */
  noisePool: 20_000,
  /** One copy of a page in this many is a draft. */
  draftEvery: 20,
  keep: process.env.BENCH_KB_KEEP === "1"
}

const resultsFile = process.argv[2]
const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL
if (!resultsFile || !adminUrl) {
  process.stderr.write("usage: BENCH_DATABASE_URL=… tsx bench/kb/KnowledgeSearch.ts <results.json>\n")
  process.exit(2)
}

const log = (line: string) => process.stderr.write(`${line}\n`)

// ---------------------------------------------------------------------------------------------
// The dataset

type Page = RetrievalDataset.Article

const pages = RetrievalDataset.articles()
const questions = RetrievalDataset.questions().filter((q) => pages.some((p) => p.product === q.product))

/** Whole pages: those answering a question first, then the others in file order, until `basePassages`. */
const basePages = (() => {
  const answers = new Set(questions.flatMap((q) => q.answerArticleIds))
  const ordered = [...pages.filter((p) => answers.has(p.id)), ...pages.filter((p) => !answers.has(p.id))]
  const chosen: Array<{ readonly page: Page; readonly chunks: ReadonlyArray<ArticleChunks.ArticleChunk> }> = []
  let passages = 0
  for (const page of ordered) {
    if (passages >= settings.basePassages) break
    const chunks = ArticleChunks.chunk(page.title, page.body)
    chosen.push({ page, chunks })
    passages += chunks.length
  }
  return chosen
})()
const baseChunks = basePages.flatMap(({ chunks, page }, n) => chunks.map((chunk) => ({ n, page, chunk })))

// ---------------------------------------------------------------------------------------------
// Vectors, made by the builtin model and kept on disk between runs (embedding a few thousand
// passages takes minutes on two cores and gives the same vectors every time)

const cached = async (texts: ReadonlyArray<string>, what: string): Promise<Array<ReadonlyArray<number>>> => {
  const key = createHash("sha256").update(BuiltinEmbeddings.model).update(texts.join("\u0000")).digest("hex").slice(0, 16)
  const file = Path.join(Os.tmpdir(), `nestfleet-bench-kb-${key}.f32`)
  const dims = BuiltinEmbeddings.dimensions
  if (Fs.existsSync(file)) {
    const buffer = Fs.readFileSync(file)
    const all = new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4)
    return texts.map((_, i) => Array.from(all.subarray(i * dims, (i + 1) * dims)))
  }
  const vectors: Array<ReadonlyArray<number>> = []
  const started = performance.now()
  for (let start = 0; start < texts.length; start += 64) {
    vectors.push(...await Effect.runPromise(BuiltinEmbeddings.embed(texts.slice(start, start + 64))))
    const seconds = (performance.now() - started) / 1000
    process.stderr.write(`\r  embedding ${what}: ${vectors.length}/${texts.length} (${seconds.toFixed(0)} s)`)
  }
  process.stderr.write("\n")
  const all = new Float32Array(texts.length * dims)
  vectors.forEach((vector, i) => all.set(vector, i * dims))
  Fs.writeFileSync(file, Buffer.from(all.buffer))
  return vectors
}

/** Passages a second over `sample`, embedded as the worker embeds an article's passages. */
const measureThroughput = async () => {
  const stride = Math.max(1, Math.floor(baseChunks.length / settings.throughputSample))
  const sample = baseChunks.filter((_, i) => i % stride === 0).slice(0, settings.throughputSample)
  const texts = sample.map(({ chunk }) => ArticleChunks.embeddingText(chunk))
  await Effect.runPromise(BuiltinEmbeddings.embed(texts.slice(0, 8))) // loads the model, compiles its kernels
  const started = performance.now()
  await Effect.runPromise(BuiltinEmbeddings.embed(texts))
  const seconds = (performance.now() - started) / 1000
  const characters = texts.reduce((total, text) => total + text.length, 0)
  return { passages: texts.length, seconds, averageCharacters: Math.round(characters / texts.length) }
}

/** Query-embedding time for each text, one at a time, as a search embeds its query. */
const timeQueryEmbedding = async (texts: ReadonlyArray<string>) => {
  const times: Array<number> = []
  for (const text of texts) {
    const started = performance.now()
    await Effect.runPromise(BuiltinEmbeddings.embed([text]))
    times.push(performance.now() - started)
  }
  return times
}

// ---------------------------------------------------------------------------------------------
// A corpus in a fresh database

const spaceIdentity = { provider: BuiltinProvider.name, model: BuiltinEmbeddings.model, dimensions: BuiltinEmbeddings.dimensions }

const literalArray = (values: ReadonlyArray<string>) =>
  `{${values.map((value) => `"${value.replace(/["\\]/g, (char) => `\\${char}`)}"`).join(",")}}`

/**
 * Loads the base pages with their real vectors into staging tables, then writes copies until
 * `target` passages: copy k of every page goes to tenant k mod 4 (its product of the same
 * name); copy 0 keeps the real vectors, the others get noisy ones. Passages and vectors go in
 * without their indexes (each product's own), which are then built as the app builds them.
 */
const populate = (target: number, vectors: ReadonlyArray<ReadonlyArray<number>>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const products = yield* ProductsRepo
    const spaces = yield* EmbeddingSpacesRepo
    const started = performance.now()

    const productNames = [...new Set(basePages.map(({ page }) => page.product))].sort()
    const productIds = new Map<string, ProductId>() // "tenant/product"
    for (let tenant = 0; tenant < settings.tenants; tenant++) {
      for (const name of productNames) {
        const row = yield* products.insert({ name: `${name} (tenant ${tenant})`, slug: `t${tenant}-${name}`, settings: ProductSettings.defaults })
        productIds.set(`${tenant}/${name}`, row.id)
      }
    }
    const space = Option.getOrThrow(yield* spaces.create(spaceIdentity, "active"))
    // Loaded first and indexed after, as the app indexes a product: faster than index inserts.
    yield* sql`select drop_embedding_indexes(${space.id})`

    yield* sql`create table bench_products (tenant int, name text, id uuid)`
    yield* sql`
      insert into bench_products
      select split_part(k, '/', 1)::int, split_part(k, '/', 2), v::uuid
      from unnest(${literalArray([...productIds.keys()])}::text[], ${literalArray([...productIds.values()])}::text[]) as t (k, v)`
    yield* sql`create table bench_pages (n int primary key, product text, title text, url text, body text, passages int)`
    yield* sql`
      insert into bench_pages
      select * from unnest(${literalArray(basePages.map((_, n) => String(n)))}::int[],
                           ${literalArray(basePages.map(({ page }) => page.product))}::text[],
                           ${literalArray(basePages.map(({ page }) => page.title))}::text[],
                           ${literalArray(basePages.map(({ page }) => page.url))}::text[],
                           ${literalArray(basePages.map(({ page }) => page.body))}::text[],
                           ${literalArray(basePages.map(({ chunks }) => String(chunks.length)))}::int[])`
    yield* sql`create table bench_chunks (n int, ordinal int, heading text, text text, search tsvector, embedding vector(512))`
    for (let start = 0; start < baseChunks.length; start += 500) {
      const slice = baseChunks.slice(start, start + 500)
      yield* sql`
        insert into bench_chunks (n, ordinal, heading, text, embedding)
        select * from unnest(${literalArray(slice.map(({ n }) => String(n)))}::int[],
                             ${literalArray(slice.map(({ chunk }) => String(chunk.ordinal)))}::int[],
                             ${literalArray(slice.map(({ chunk }) => chunk.heading))}::text[],
                             ${literalArray(slice.map(({ chunk }) => chunk.text))}::text[],
                             ${literalArray(slice.map((_, i) => vectorLiteral(vectors[start + i]!)))}::vector(512)[])`
    }
    // The passage's full-text vector exactly as KnowledgeRepo.replaceChunks makes it; copies share it.
    yield* sql`
      update bench_chunks
      set search = setweight(to_tsvector('english', heading), 'A') || to_tsvector('english', left(text, 100000))`

    // Gaussian noise (Box–Muller), scaled: a pool of vectors combined with every base vector.
    yield* sql`
      create table bench_noise as
      select i, (select array_agg(${settings.noiseSigma} * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
                 from generate_series(1, 512) d where i >= 0)::vector(512) as v
      from generate_series(0, ${settings.noisePool - 1}) i`

    // Copies of whole pages in order (copy 0 of every page, then copy 1, …) until `target` passages.
    const copies = Math.ceil(target / baseChunks.length)
    yield* sql`
      create table bench_copies as
      select k, n, article_id from (
        select k, p.n, gen_random_uuid() as article_id,
               sum(p.passages) over (order by k, p.n) as running
        from generate_series(0, ${copies - 1}) k cross join bench_pages p
      ) c
      where running <= ${target}`
    yield* sql`
      insert into articles (id, product_id, title, body, url, status, version, embedding_state, embedded_version)
      select c.article_id, bp.id, p.title, p.body, p.url,
             case when (c.k * 7 + c.n) % ${settings.draftEvery} = ${settings.draftEvery - 1} then 'draft' else 'published' end,
             1, 'ready', 1
      from bench_copies c
      join bench_pages p on p.n = c.n
      join bench_products bp on bp.tenant = c.k % ${settings.tenants} and bp.name = p.product`
    yield* sql`
      insert into article_chunks (article_id, product_id, ordinal, heading, text, search)
      select c.article_id, a.product_id, ch.ordinal, ch.heading, ch.text, ch.search
      from bench_copies c join articles a on a.id = c.article_id join bench_chunks ch on ch.n = c.n`
    yield* sql`
      insert into chunk_embeddings (chunk_id, space_id, product_id, embedding)
      select ac.id, ${space.id}, a.product_id,
             case when c.k = 0 then ch.embedding
                  else l2_normalize(ch.embedding + nz.v) end
      from bench_copies c
      join article_chunks ac on ac.article_id = c.article_id
      join articles a on a.id = c.article_id
      join bench_chunks ch on ch.n = c.n and ch.ordinal = ac.ordinal
      join bench_noise nz on nz.i = abs(hashtext(ac.id::text)) % ${settings.noisePool}`
    const loaded = (performance.now() - started) / 1000

    const indexStarted = performance.now()
    yield* sql`set maintenance_work_mem = '2GB'`
    for (const productId of productIds.values()) yield* products.createIndexes(productId) // the app's own
    yield* sql`reset maintenance_work_mem`
    const indexSeconds = (performance.now() - indexStarted) / 1000
    yield* sql`vacuum analyze`

    const shares = yield* sql<{ name: string; share: number }>`
      select bp.name, (count(*)::float8 / (select count(*) from chunk_embeddings)) as share
      from chunk_embeddings e join article_chunks c on c.id = e.chunk_id join articles a on a.id = c.article_id
      join bench_products bp on bp.id = a.product_id
      where bp.tenant = 0 and a.status = 'published'
      group by bp.name`
    const [counts] = yield* sql<{ passages: number; articles: number; searched: number; cosine: number }>`
      select (select count(*)::int from article_chunks) as passages,
             (select count(*)::int from articles) as articles,
             (select count(*)::int from article_chunks c join articles a on a.id = c.article_id
               join bench_products bp on bp.id = a.product_id
               where bp.tenant = 0 and bp.name = 'nextjs' and a.status = 'published') as searched,
             (select avg(1 - (e.embedding::vector(512) <=> ch.embedding))::float8
               from (select * from bench_copies where k > 0 limit 500) c
               join article_chunks ac on ac.article_id = c.article_id
               join chunk_embeddings e on e.chunk_id = ac.id
               join bench_chunks ch on ch.n = c.n and ch.ordinal = ac.ordinal) as cosine`
    const productShares = Object.fromEntries(shares.map((row) => [row.name, row.share]))
    return { space, productIds, productShares, loadSeconds: loaded, indexSeconds, ...counts! }
  })

// ---------------------------------------------------------------------------------------------
// Measuring

interface Query {
  readonly product: string
  readonly kind: "short" | "long"
  readonly text: string
  readonly productId: ProductId
  readonly vector: SpaceVector
  readonly answerUrls: ReadonlySet<string>
}

const subjects = ["pgvector", "repo", "search"] as const
type Subject = typeof subjects[number]

const makeMeasurer = () =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* KnowledgeRepo
    const knowledge = yield* Knowledge
    const run: Record<Subject, (query: Query) => Effect.Effect<ReadonlyArray<string | null>, unknown>> = {
      // pgvector alone: the nearest five on the product's partial HNSW index, no join, no words.
      pgvector: (query) =>
        Effect.map(
          sql<{ chunkId: string }>`
            select chunk_id from chunk_embeddings
            where space_id = ${query.vector.spaceId} and product_id = ${query.productId}
            order by embedding::vector(512) <=> ${vectorLiteral(query.vector.vector)}::vector(512)
            limit 5`,
          (rows) => rows.map(() => null)
        ),
      // What Knowledge.searchPassages sends: meaning and words, in the product.
      repo: (query) =>
        Effect.map(
          repo.searchPassages({ productId: query.productId, text: query.text, vector: query.vector, candidates: candidatesPerHalf }),
          (hits) => hits.map((hit) => hit.url)
        ),
      // The API's search after the query is embedded: the product checked, the passages, the
      // space's score curve, one item per article, the top 5.
      search: (query) => Effect.map(knowledge.search(query.productId, query.text, 5), (result) => result.items.map((item) => item.url))
    }
    return run
  })

/** Knowledge over the real repositories, with the query vectors made beforehand standing in for the model. */
const knowledgeLayer = (vectors: ReadonlyMap<string, SpaceVector>) =>
  Knowledge.DefaultWithoutDependencies.pipe(
    Layer.provide([
      makeTestLayer(Embeddings)({ queryVector: (text: string) => Effect.succeed(Option.fromNullable(vectors.get(text))) }),
      makeTestLayer(JobQueue)({})
    ]),
    Layer.provideMerge(Layer.mergeAll(Transactions.Default, KnowledgeRepo.Default, ProductsRepo.Default, EmbeddingSpacesRepo.Default))
  )

interface ScaleResult {
  readonly target: number
  readonly passages: number
  readonly articles: number
  readonly searchedProductPassages: number
  readonly copyCosine: number
  /** Each searched product's share of the space's vectors (its published passages). */
  readonly productShares: Record<string, number>
  readonly loadSeconds: number
  readonly indexSeconds: number
  /** Milliseconds per query, by subject and query kind, every round's. */
  readonly samples: Record<string, Array<number>>
  /** Share of queries with an answer page in the top 5, by kind (Knowledge.search). */
  readonly answered: Record<string, number>
}

/** What this writes to `<results.json>` for bench/kb/main.ts to print. */
export interface Results {
  readonly settings: {
    readonly rounds: number
    readonly tenants: number
    readonly noiseSigma: number
    readonly questions: number
    readonly basePages: number
    readonly basePassages: number
    readonly draftEvery: number
  }
  readonly throughput: { readonly passages: number; readonly seconds: number; readonly averageCharacters: number }
  readonly queryEmbedding: {
    readonly short: Array<number>
    readonly long: Array<number>
    readonly shortChars: number
    readonly longChars: number
  }
  readonly scales: ReadonlyArray<ScaleResult>
}

const measureScale = (
  target: number,
  baseVectors: ReadonlyArray<ReadonlyArray<number>>,
  queryVectors: ReadonlyMap<string, ReadonlyArray<number>>
) =>
  Effect.gen(function*() {
    const create = TestDatabase.createServerDatabase(Redacted.make(adminUrl))
    // Kept: made in a scope that is never closed, so it is not dropped.
    const { url } = yield* settings.keep ? Effect.flatMap(Scope.make(), (scope) => Scope.extend(create, scope)) : create
    if (settings.keep) log(`  database kept: ${new URL(Redacted.value(url)).pathname.slice(1)}`)
    const databaseLayer = Layer.effectDiscard(Logger.withMinimumLogLevel(Migrator.migrateDirectory, LogLevel.Warning)).pipe(
      Layer.provideMerge(Sql.layer),
      Layer.provideMerge(Database.layerServer({ url, poolMax: 4 }))
    )
    const runtime = ManagedRuntime.make(
      Layer.mergeAll(ProductsRepo.Default, EmbeddingSpacesRepo.Default, Logger.minimumLogLevel(LogLevel.Warning)).pipe(
        Layer.provideMerge(databaseLayer),
        Layer.orDie
      )
    )
    yield* Effect.addFinalizer(() => runtime.disposeEffect)
    log(`  loading ${target} passages…`)
    const corpus = yield* Effect.promise(() => runtime.runPromise(populate(target, baseVectors)))
    log(`  ${corpus.passages} passages in ${corpus.articles} articles: loaded in ${corpus.loadSeconds.toFixed(0)} s, indexes built in ${corpus.indexSeconds.toFixed(0)} s`)

    const urlsOf = (question: RetrievalDataset.Question) =>
      new Set(pages.filter((page) => question.answerArticleIds.includes(page.id)).map((page) => page.url))
    const queries: Array<Query> = questions.flatMap((question) => {
      const productId = corpus.productIds.get(`0/${question.product}`)
      if (productId === undefined) return []
      const short = question.question.split("\n")[0]!.trim()
      return (["short", "long"] as const).map((kind) => {
        const text = kind === "short" ? short : question.question
        const vector = { spaceId: corpus.space.id, dimensions: 512, vector: queryVectors.get(text)! }
        return { product: question.product, kind, text, productId, vector, answerUrls: urlsOf(question) }
      })
    })
    const vectors = new Map(queries.map((query) => [query.text, query.vector]))

    const measure = Effect.gen(function*() {
      const run = yield* makeMeasurer()
      const samples: Record<string, Array<number>> = {}
      const answered: Record<string, number> = { short: 0, long: 0 }
      const time = (subject: Subject, query: Query) =>
        Effect.gen(function*() {
          const started = performance.now()
          const urls = yield* run[subject](query)
          return { ms: performance.now() - started, urls }
        })
      // Warm-up: every query once through every subject (caches, plans, the pool's connections).
      for (const query of queries) for (const subject of subjects) yield* time(subject, query)
      for (let round = 0; round < settings.rounds; round++) {
        // Each round another order of the subjects, and of the queries.
        const order = subjects.map((_, i) => subjects[(i + round) % subjects.length]!)
        const shuffled = [...queries].sort((a, b) => hash(`${round}:${a.text}`) - hash(`${round}:${b.text}`))
        for (const query of shuffled) {
          for (const subject of order) {
            const { ms, urls } = yield* time(subject, query)
            ;(samples[`${subject}/${query.kind}`] ??= []).push(ms)
            if (subject === "search") (samples[`search/${query.kind}/${query.product}`] ??= []).push(ms)
            if (round === 0 && subject === "search" && urls.slice(0, 5).some((u) => u !== null && query.answerUrls.has(u))) {
              answered[query.kind]!++
            }
          }
        }
      }
      const perKind = queries.length / 2
      return { samples, answered: { short: answered.short! / perKind, long: answered.long! / perKind } }
    })
    const measured = yield* Effect.promise(() =>
      runtime.runPromise(Effect.provide(measure, knowledgeLayer(vectors)))
    )
    return {
      target,
      passages: corpus.passages,
      articles: corpus.articles,
      searchedProductPassages: corpus.searched,
      copyCosine: corpus.cosine,
      productShares: corpus.productShares,
      loadSeconds: corpus.loadSeconds,
      indexSeconds: corpus.indexSeconds,
      ...measured
    } satisfies ScaleResult
  }).pipe(Effect.scoped)

const hash = (text: string) => createHash("sha1").update(text).digest().readUInt32BE(0)

// ---------------------------------------------------------------------------------------------

const main = async () => {
  log(`kb bench: ${pages.length} pages and ${questions.length} questions in the dataset; ${basePages.length} pages, ${baseChunks.length} passages with real vectors`)
  log("  embedding throughput…")
  const throughput = await measureThroughput()
  const baseVectors = await cached(baseChunks.map(({ chunk }) => ArticleChunks.embeddingText(chunk)), "base passages")
  const queryTexts = [...new Set(questions.flatMap((q) => [q.question.split("\n")[0]!.trim(), q.question]))]
  const queryVectorList = await cached(queryTexts, "questions")
  const queryVectors = new Map(queryTexts.map((text, i) => [text, queryVectorList[i]!]))
  const shortTexts = [...new Set(questions.map((q) => q.question.split("\n")[0]!.trim()))]
  const embedShort = await timeQueryEmbedding(shortTexts)
  const embedLong = await timeQueryEmbedding(questions.map((q) => q.question))

  const scales: Array<ScaleResult> = []
  for (const target of settings.scales) {
    log(`scale ${target}:`)
    scales.push(await Effect.runPromise(measureScale(target, baseVectors, queryVectors)))
  }
  const shortChars = shortTexts.reduce((n, t) => n + t.length, 0) / shortTexts.length
  const longChars = questions.reduce((n, q) => n + q.question.length, 0) / questions.length
  Fs.writeFileSync(resultsFile, JSON.stringify({
    settings: { ...settings, questions: questions.length, basePages: basePages.length, basePassages: baseChunks.length },
    throughput,
    queryEmbedding: { short: embedShort, long: embedLong, shortChars, longChars },
    scales
  } satisfies Results))
}

main().then(
  // The builtin model may keep a worker thread; the figures are written, so the process is done.
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
