/**
 * Changing the embedding model, against a real database: the first model's space is searched
 * at once; a second model gets a building space, filled by `embed_space` rounds while the
 * first stays the one searched; once complete it is switched to, and the old vectors dropped.
 * The models are two small deterministic embedders of different dimensions.
 */
import { expect, layer } from "@effect/vitest"
import { Llm, type LlmProvider, LlmUnavailable } from "@nestfleet/ai/Llm"
import { EmbeddingSpacesRepo } from "@nestfleet/db/EmbeddingSpacesRepo"
import { ProductsRepo } from "@nestfleet/db/ProductsRepo"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { ProductSettings } from "@nestfleet/domain/Products"
import { UserId } from "@nestfleet/domain/Users"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { JobId, JobQueue } from "@nestfleet/jobs/JobQueue"
import { Database } from "@nestfleet/db/Database"
import { Effect, Layer, Option } from "effect"
import { Embeddings } from "../src/Embeddings.js"
import { Knowledge } from "../src/Knowledge.js"

/**
 * Letter counts folded into the space's dimensions, normalised: texts sharing words point the
 * same way. Its server answers for any model asked for, as an OpenAI-compatible one does,
 * unless it serves `onlyItsOwn` (as a server that no longer has the previous model).
 */
const letterEmbedder = (model: string, dimensions: number, onlyItsOwn = false): LlmProvider => ({
  name: "test",
  embedding: { model, dimensions },
  complete: () => Effect.fail(new LlmUnavailable({ provider: "test", message: "no completions here" })),
  embed: (texts, space = { model, dimensions }) =>
    onlyItsOwn && space.model !== model
      ? Effect.fail(new LlmUnavailable({ provider: "test", model: space.model, message: "model not found" }))
      : Effect.succeed(texts.map((text) => {
      const vector = new Array<number>(space.dimensions).fill(0)
      for (const char of text.toLowerCase()) if (/[a-z]/.test(char)) vector[char.charCodeAt(0) % space.dimensions]! += 1
      const norm = Math.hypot(...vector) || 1
      return vector.map((value) => value / norm)
    }))
})

let current = letterEmbedder("letters-8", 8)
const sent: Array<{ readonly job: string; readonly payload: unknown }> = []

const TestLayer = Layer.mergeAll(Knowledge.Default, Embeddings.Default, EmbeddingSpacesRepo.Default, ProductsRepo.Default).pipe(
  Layer.provide(Llm.layerDynamic(Effect.sync(() => current))),
  Layer.provide(makeTestLayer(JobQueue)({
    send: (job, payload) => Effect.sync(() => (sent.push({ job: job.name, payload }), Option.some(JobId.make(`job-${sent.length}`))))
  })),
  Layer.provideMerge(TestDatabase.layer)
)

const author = {
  id: UserId.make("00000000-0000-4000-8000-000000000001"),
  email: "agent@nestfleet.test",
  name: "Agent",
  roles: ["agent"] as const,
  sessionId: "session"
}

const insertAuthor = Effect.flatMap(Database, ({ pool }) =>
  Effect.promise(() =>
    pool.query(
      "insert into users (id, email, name, password_hash, roles) values ($1, $2, $3, 'unusable', array['agent'])",
      [author.id, author.email, author.name]
    )
  ))

const spaceStates = Effect.flatMap(Database, ({ pool }) =>
  Effect.promise(() =>
    pool.query<{ model: string; state: string; chunks: number }>(
      `select s.model, s.state, (select count(*)::int from chunk_embeddings e where e.space_id = s.id) as chunks
       from embedding_spaces s order by s.id`
    ).then((result) => result.rows)
  ))

layer(TestLayer, { timeout: 60_000 })("embedding spaces", (it) => {
  it.effect("a model change fills a new space in the background and switches to it once complete", () =>
    Effect.gen(function*() {
      const knowledge = yield* Knowledge
      const embeddings = yield* Embeddings
      const products = yield* ProductsRepo
      yield* insertAuthor
      const product = yield* products.insert({ name: "Spaces", slug: "spaces", settings: ProductSettings.defaults })
      const sso = yield* knowledge.create(author, product.id, { title: "Single sign-on", body: "Connect SAML under Settings." })
      const plans = yield* knowledge.create(author, product.id, { title: "Plans", body: "Downgrade from Billing." })
      yield* knowledge.embedArticle(sso.id, 1)
      yield* knowledge.embedArticle(plans.id, 1)
      expect(yield* spaceStates).toEqual([{ model: "letters-8", state: "active", chunks: 2 }])
      const before = yield* knowledge.search(product.id, "SAML single sign-on", 5)
      expect(before.items[0]!.articleId).toBe(sso.id)

      // The configured model changes: the next embedding makes its space, building, and queues its filling.
      current = letterEmbedder("letters-4", 4)
      sent.length = 0
      const during = yield* knowledge.search(product.id, "SAML single sign-on", 5)
      expect(during.items[0]!.articleId).toBe(sso.id)
      // The query is embedded by the previous model, asked for by name: a score, not words alone.
      expect(during.items[0]!.score).toBeGreaterThan(0)
      // A server that no longer has the previous model: words alone, which score 0.
      current = letterEmbedder("letters-4", 4, true)
      const elsewhere = yield* knowledge.search(product.id, "SAML single sign-on", 5)
      expect(elsewhere.items[0]!.articleId).toBe(sso.id)
      expect(elsewhere.items[0]!.score).toBe(0)
      current = letterEmbedder("letters-4", 4)
      expect(yield* spaceStates).toEqual([
        { model: "letters-8", state: "active", chunks: 2 },
        { model: "letters-4", state: "building", chunks: 0 }
      ])
      const fill = sent.find((job) => job.job === "embed_space")
      expect(fill).toBeDefined()

      yield* embeddings.fillSpace((fill!.payload as { spaceId: number }).spaceId)
      expect(yield* spaceStates).toEqual([
        { model: "letters-8", state: "retired", chunks: 0 },
        { model: "letters-4", state: "active", chunks: 2 }
      ])
      const after = yield* knowledge.search(product.id, "SAML single sign-on", 5)
      expect(after.items[0]!.articleId).toBe(sso.id)
      expect(after.items[0]!.score).toBeGreaterThan(0)
    }))
})
