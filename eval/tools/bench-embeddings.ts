/**
 * Cost of the builtin sentence encoder on this machine: load time, resident memory after
 * loading, and milliseconds per text when embedding in batches of 32, for sentence-length
 * texts (article titles, question titles) and paragraph-length texts (article chunks), in
 * batches of 8 as BuiltinEmbeddings sends them. The model is loaded before the dataset is
 * read, so the second memory figure is the process plus the model alone.
 *
 * Usage: pnpm exec tsx eval/tools/bench-embeddings.ts
 */
import * as BuiltinEmbeddings from "../../packages/ai/src/BuiltinEmbeddings.js"
import * as Dataset from "../lib/RetrievalDataset.js"

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`

const timePerText = async (encoder: BuiltinEmbeddings.SentenceEncoder, texts: ReadonlyArray<string>) => {
  await encoder.embed(texts.slice(0, 8) as Array<string>) // warm-up: first calls compile kernels
  const started = performance.now()
  for (let start = 0; start < texts.length; start += 8) await encoder.embed(texts.slice(start, start + 8) as Array<string>)
  return (performance.now() - started) / texts.length
}

const main = async () => {
  const before = process.memoryUsage().rss
  const started = performance.now()
  const encoder = await BuiltinEmbeddings.loadUseLite()
  const loadMs = performance.now() - started
  const loaded = process.memoryUsage().rss
  const articles = Dataset.articles()
  const sentences = articles.map((a) => a.title).concat(Dataset.questions().map((q) => q.question.split("\n")[0]!)).slice(0, 512)
  const paragraphs = articles.flatMap(Dataset.chunk).map((c) => c.text).filter((_, i) => i % 17 === 0).slice(0, 512)
  const withData = process.memoryUsage().rss
  const sentenceMs = await timePerText(encoder, sentences)
  const paragraphMs = await timePerText(encoder, paragraphs)
  const average = (texts: ReadonlyArray<string>) => Math.round(texts.reduce((n, t) => n + t.length, 0) / texts.length)
  console.log(`load: ${loadMs.toFixed(0)} ms`)
  console.log(`rss: ${mb(before)} before loading, ${mb(loaded)} with the model loaded`)
  console.log(`rss: ${mb(withData)} with the dataset read too, ${mb(process.memoryUsage().rss)} after embedding`)
  console.log(`sentences (${sentences.length}, ~${average(sentences)} chars): ${sentenceMs.toFixed(2)} ms each`)
  console.log(`paragraphs (${paragraphs.length}, ~${average(paragraphs)} chars): ${paragraphMs.toFixed(2)} ms each`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
