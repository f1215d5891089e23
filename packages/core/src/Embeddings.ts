/**
 * Vectors and the space they belong to. The model that embeds is whatever the AI settings
 * name now; its vectors go to that model's space. The first space is active at once; a later
 * model makes a `building` space, filled in the background (`embed_space`), while search keeps
 * using the complete active one — embedding queries with the active space's model where it can
 * still be reached — and the switch happens once the new space holds every passage and case.
 */
import * as BuiltinProvider from "@nestfleet/ai/BuiltinProvider"
import { Llm } from "@nestfleet/ai/Llm"
import { CasesRepo } from "@nestfleet/db/CasesRepo"
import { EmbeddingSpaceRow, EmbeddingSpacesRepo, type SpaceIdentity } from "@nestfleet/db/EmbeddingSpacesRepo"
import type { SpaceVector } from "@nestfleet/db/KnowledgeRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { EmbedSpaceJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect, Option } from "effect"
import * as ArticleChunks from "./ArticleChunks.js"
import * as CaseText from "./CaseText.js"

const sameIdentity = (a: SpaceIdentity, b: SpaceIdentity) =>
  a.provider === b.provider && a.model === b.model && a.dimensions === b.dimensions

/** Texts a filling round embeds before it hands over to the next job, and per request. */
const roundSize = 2000
const batchSize = 64

export interface EmbeddedTexts {
  readonly space: EmbeddingSpaceRow
  readonly vectors: ReadonlyArray<ReadonlyArray<number>>
}

export class Embeddings extends Effect.Service<Embeddings>()("@nestfleet/core/Embeddings", {
  effect: Effect.gen(function*() {
    const llm = yield* Llm
    const transactions = yield* Transactions
    const spaces = yield* EmbeddingSpacesRepo
    const queue = yield* JobQueue
    const cases = yield* CasesRepo

    /**
     * The space for vectors of `identity`: the active one if it is that model's; otherwise
     * that model's building space, made (and its filling queued) if need be. Taken under a
     * lock, so processes meeting a new model at once make one space.
     */
    const spaceFor = (identity: SpaceIdentity) =>
      Effect.flatMap(spaces.findByIdentity(identity), (found) =>
        Option.isSome(found) && found.value.state !== "retired"
          ? Effect.succeed(found.value)
          : transactions.withTransaction(Effect.gen(function*() {
            yield* spaces.lockSpaces
            const existing = yield* spaces.findByIdentity(identity)
            if (Option.isSome(existing) && existing.value.state !== "retired") return existing.value
            const active = yield* spaces.active()
            const building = yield* spaces.building()
            // A model chosen and then changed again before its space was complete: that space is dropped.
            if (Option.isSome(building)) yield* spaces.retire(building.value.id)
            const state = Option.isNone(active) ? "active" as const : "building" as const
            const space = Option.isSome(existing)
              ? yield* Effect.as(spaces.revive(existing.value, state), new EmbeddingSpaceRow({ ...existing.value, state }))
              : yield* Effect.flatten(spaces.create(identity, state))
            yield* queue.send(EmbedSpaceJob, { spaceId: space.id }, { singletonKey: `space:${space.id}` }).pipe(Effect.orDie)
            yield* Effect.logInfo("Embeddings: a new embedding space").pipe(
              Effect.annotateLogs({ space: space.id, model: identity.model, state })
            )
            return space
          })))

    /** Embeds with the configured model, into that model's space. */
    const embed = Effect.fn("Embeddings.embed")(function*(texts: ReadonlyArray<string>) {
      const embedded = yield* llm.embed(texts)
      const space = yield* spaceFor(embedded)
      return { space, vectors: embedded.vectors } satisfies EmbeddedTexts
    })

    /**
     * A query as a vector of the active space, for search: by the configured model when it is
     * the active space's; while a model change rebuilds the vectors, by the active space's
     * model — the builtin one is always at hand, another of the configured server is asked
     * for by name — else none, and search ranks by words alone until the new space is
     * complete. The configured model's space is made on the way, so a model change starts its
     * rebuild even before any article changes.
     */
    const queryVector = Effect.fn("Embeddings.queryVector")(function*(text: string) {
      const embedded = yield* llm.embed([text])
      const space = yield* spaceFor(embedded)
      if (space.state === "active") return Option.some<SpaceVector>({ spaceId: space.id, dimensions: space.dimensions, vector: embedded.vectors[0]! })
      // Only while a model change rebuilds the vectors: the space searched is another one.
      const active = yield* spaces.active()
      if (Option.isNone(active)) return Option.none<SpaceVector>()
      const previous = active.value
      const vector = previous.provider === BuiltinProvider.name && sameIdentity(previous, { provider: BuiltinProvider.name, ...BuiltinProvider.provider.embedding })
        ? Effect.map(BuiltinProvider.provider.embed([text]), (vectors) => vectors[0]!)
        : Effect.map(llm.embed([text], previous), (answer) => answer.vectors[0]!)
      return yield* vector.pipe(
        Effect.map((vector) => Option.some<SpaceVector>({ spaceId: previous.id, dimensions: previous.dimensions, vector })),
        Effect.catchTags({
          // The previous model is no longer served: words alone until the new space is complete.
          LlmUnavailable: () => Effect.succeed(Option.none<SpaceVector>()),
          LlmMalformedOutput: () => Effect.succeed(Option.none<SpaceVector>())
        })
      )
    })

    /**
     * One round of filling a space: passages first, then cases, a batch at a time, for at most
     * `roundSize` texts; the job sends itself again while any are left. A space whose model is
     * no longer the configured one is left alone (a later model replaced it). Complete, a
     * building space becomes the active one.
     */
    const fillSpace = Effect.fn("Embeddings.fillSpace")(function*(spaceId: number) {
      yield* Effect.annotateCurrentSpan({ "space.id": spaceId })
      const space = yield* spaces.findById(spaceId)
      if (Option.isNone(space) || space.value.state === "retired") return
      let embedded = 0
      while (embedded < roundSize) {
        const chunks = yield* spaces.chunksWithout({ spaceId, limit: batchSize })
        if (chunks.length === 0) break
        const result = yield* llm.embed(chunks.map(ArticleChunks.embeddingText))
        if (!sameIdentity(result, space.value)) return yield* Effect.logInfo("Embeddings: the space's model is no longer configured")
        yield* spaces.insertChunkVectors(spaceId, chunks.map((chunk, i) => ({ chunkId: chunk.id, vector: result.vectors[i]! })))
        embedded += chunks.length
      }
      while (embedded < roundSize) {
        const ids = yield* spaces.casesWithout(spaceId, batchSize)
        if (ids.length === 0) break
        const texts = yield* Effect.forEach(ids, (id) =>
          Effect.flatMap(Effect.flatten(cases.findById(id)), (row) =>
            Effect.map(cases.messagesOf(id), (messages) => CaseText.forMatching(row, messages))))
        const result = yield* llm.embed(texts)
        if (!sameIdentity(result, space.value)) return yield* Effect.logInfo("Embeddings: the space's model is no longer configured")
        yield* Effect.forEach(ids, (caseId, i) =>
          spaces.upsertCaseVector({ caseId, spaceId, vector: result.vectors[i]!, contentHash: CaseText.hash(texts[i]!) }))
        embedded += ids.length
      }
      if (embedded >= roundSize) {
        return yield* queue.send(EmbedSpaceJob, { spaceId }, { singletonKey: `space:${spaceId}` }).pipe(Effect.orDie)
      }
      if (space.value.state === "building") {
        yield* transactions.withTransaction(Effect.zipRight(spaces.lockSpaces, spaces.activate(spaceId)))
        yield* Effect.logInfo("Embeddings: the new space is complete and now searched").pipe(
          Effect.annotateLogs({ space: spaceId, model: space.value.model })
        )
      }
    })

    return { embed, spaceFor, queryVector, fillSpace } as const
  }),
  dependencies: [Transactions.Default, EmbeddingSpacesRepo.Default, CasesRepo.Default]
}) {}
