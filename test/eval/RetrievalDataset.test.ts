/**
 * The retrieval eval set (eval/retrieval/*.jsonl): every answer is a page of the question's own
 * product, the split is the one fixed by the hash of the thread URL, and no thread is counted twice.
 */
import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import * as Dataset from "../../eval/lib/RetrievalDataset.js"

const articles = Dataset.articles()
const questions = Dataset.questions()
const productOf = new Map(articles.map((a) => [a.id, a.product]))

describe("retrieval dataset", () => {
  it("has unique article ids, question ids and threads", () => {
    expect(new Set(articles.map((a) => a.id)).size).toBe(articles.length)
    expect(new Set(questions.map((q) => q.id)).size).toBe(questions.length)
    expect(new Set(questions.map((q) => q.source)).size).toBe(questions.length)
  })

  it("answers every question with pages of its own product, each backed by a linked URL", () => {
    for (const q of questions) {
      expect(q.question.trim(), q.id).not.toBe("")
      expect(q.answerArticleIds.length, q.id).toBeGreaterThan(0)
      expect(q.linked.length, q.id).toBeGreaterThan(0)
      for (const id of q.answerArticleIds) expect(productOf.get(id), `${q.id} -> ${id}`).toBe(q.product)
    }
  })

  it("splits by the first byte of sha256(source): held out when divisible by 3", () => {
    for (const q of questions) {
      const byte = createHash("sha256").update(q.source).digest()[0]!
      expect(q.split, q.id).toBe(byte % 3 === 0 ? "heldout" : "dev")
    }
  })

  it("cuts every article into chunks that start with its title", () => {
    for (const article of articles) {
      const chunks = Dataset.chunk(article)
      expect(chunks.length, article.id).toBeGreaterThan(0)
      for (const c of chunks) expect(c.text.startsWith(article.title), article.id).toBe(true)
    }
  })
})
