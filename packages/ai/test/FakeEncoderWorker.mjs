/**
 * A stand-in for BuiltinEmbeddingsWorker.mjs that speaks its protocol with no model, for the
 * worker-lifecycle tests. Each text becomes [its length, this thread's id, 1]; some texts
 * make it misbehave:
 *   "slow"  answers after 300 ms        "throw" throws an uncaught exception
 *   "exit"  ends the thread (code 7)    "fail"  fails that call only
 * With workerData { failLoad: true } the load fails.
 */
import { parentPort, threadId, workerData } from "node:worker_threads"

const port = parentPort

if (workerData?.failLoad) {
  port.postMessage({ type: "loadFailed", error: { message: "weights missing" } })
} else {
  port.on("message", ({ id, texts }) => {
    if (texts.includes("throw")) setImmediate(() => { throw new Error("the encoder broke") })
    else if (texts.includes("exit")) process.exit(7)
    else if (texts.includes("fail")) port.postMessage({ type: "failed", id, error: { message: "bad input" } })
    else {
      const packed = Float32Array.from(texts.flatMap((text) => [text.length, threadId, 1]))
      const reply = () =>
        port.postMessage({ type: "vectors", id, count: texts.length, width: 3, buffer: packed.buffer }, [packed.buffer])
      if (texts.includes("slow")) setTimeout(reply, 300)
      else reply()
    }
  })
  port.postMessage({ type: "ready" })
}
