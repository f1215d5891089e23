/** The retrieval dataset (eval/retrieval/*.jsonl) and how articles are cut into chunks. */
import * as Path from "node:path"
import { readJsonl } from "./Jsonl.js"

export interface Article {
  readonly id: string
  readonly product: string
  readonly title: string
  readonly url: string
  readonly body: string
}

export type Split = "dev" | "heldout"

export interface Question {
  readonly id: string
  readonly product: string
  readonly question: string
  readonly answerArticleIds: ReadonlyArray<string>
  /** The docs URLs exactly as the answerer linked them; `answerArticleIds` maps them to pages. */
  readonly linked: ReadonlyArray<string>
  readonly source: string
  readonly split: Split
}

export interface Chunk {
  readonly articleId: string
  readonly text: string
}

const dataDir = Path.join(import.meta.dirname, "../retrieval")

export const articles = (): Array<Article> => readJsonl<Article>(Path.join(dataDir, "articles.jsonl"))

export const questions = (): Array<Question> => readJsonl<Question>(Path.join(dataDir, "questions.jsonl"))

/** Characters per chunk: about a paragraph, the span a sentence encoder summarises without washing out. */
const windowChars = 700

/**
 * Sections by Markdown heading, then windows of whole paragraphs up to `windowChars`; each
 * chunk starts with the page title and its section heading, which carry most of what a
 * question names ("bodyLimit", "environment variables") and which a mid-section paragraph lacks.
 */
export const chunk = (article: Article): Array<Chunk> => {
  const chunks: Array<Chunk> = []
  const sections = article.body.split(/\n(?=#{1,6} )/)
  for (const section of sections) {
    const heading = /^#{1,6} (.+)/.exec(section)?.[1] ?? ""
    const prefix = heading === "" || heading === article.title ? article.title : `${article.title} — ${heading}`
    const paragraphs = section.replace(/^#{1,6} .+\n?/, "").split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p !== "")
    let window = ""
    const flush = () => {
      if (window !== "") chunks.push({ articleId: article.id, text: `${prefix}\n${window}` })
      window = ""
    }
    for (const paragraph of paragraphs) {
      if (window !== "" && window.length + paragraph.length > windowChars) flush()
      window = window === "" ? paragraph.slice(0, windowChars * 2) : `${window}\n\n${paragraph}`
    }
    flush()
    if (paragraphs.length === 0 && heading !== "") chunks.push({ articleId: article.id, text: prefix })
  }
  return chunks.length > 0 ? chunks : [{ articleId: article.id, text: article.title }]
}

// ---------------------------------------------------------------------------------------------
// Variants for the recipe search (`compare-embeddings.ts --recipes`).
import * as ArticleChunks from "../../packages/core/src/ArticleChunks.js"

/** A passage with its parts apart, so that what is embedded and what is indexed can differ. */
export interface Passage {
  readonly articleId: string
  readonly title: string
  /** Section heading path below the title ("" for the page's lead). */
  readonly section: string
  readonly body: string
  /** `lead`: the whole-article pseudo-passage (title + first paragraph). */
  readonly kind: "chunk" | "lead"
}

/** `chunk` with its parts apart: `evalText` of each is exactly `chunk`'s text. */
export const evalPassages = (article: Article, window = windowChars): Array<Passage> => {
  const passages: Array<Passage> = []
  for (const section of article.body.split(/\n(?=#{1,6} )/)) {
    const heading = /^#{1,6} (.+)/.exec(section)?.[1] ?? ""
    const sectionName = heading === "" || heading === article.title ? "" : heading
    const paragraphs = section.replace(/^#{1,6} .+\n?/, "").split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p !== "")
    let text = ""
    const flush = () => {
      if (text !== "") passages.push({ articleId: article.id, title: article.title, section: sectionName, body: text, kind: "chunk" })
      text = ""
    }
    for (const paragraph of paragraphs) {
      if (text !== "" && text.length + paragraph.length > window) flush()
      text = text === "" ? paragraph.slice(0, window * 2) : `${text}\n\n${paragraph}`
    }
    flush()
    if (paragraphs.length === 0 && heading !== "") {
      passages.push({ articleId: article.id, title: article.title, section: sectionName, body: "", kind: "chunk" })
    }
  }
  return passages.length > 0 ? passages : [{ articleId: article.id, title: article.title, section: "", body: "", kind: "chunk" }]
}

/** The text `chunk` gives a passage of `evalPassages`: "Title — Section", newline, body. */
export const evalText = (p: Passage) => {
  const prefix = p.section === "" ? p.title : `${p.title} — ${p.section}`
  return p.body === "" ? prefix : `${prefix}\n${p.body}`
}

/** The product's chunking (packages/core/src/ArticleChunks.ts: 1000/1600 characters, one paragraph of overlap, heading path). */
export const productionPassages = (article: Article): Array<Passage> =>
  ArticleChunks.chunk(article.title, article.body).map((c) => {
    const path = c.heading.split(" › ")
    return {
      articleId: article.id,
      title: article.title,
      section: path.slice(1).join(" › "),
      body: c.text === article.title && path.length === 1 ? "" : c.text,
      kind: "chunk" as const
    }
  })

/** What the product embeds for a passage of `productionPassages` (ArticleChunks.embeddingText). */
export const productionText = (p: Passage) =>
  p.kind === "lead" ? evalText(p) : ArticleChunks.embeddingText({
    heading: [p.title, ...(p.section === "" ? [] : [p.section])].join(" › "),
    text: p.body === "" ? p.title : p.body
  })

/**
 * The whole-article pseudo-passage: title, then the first paragraph of prose (not a heading,
 * code block, table, list of links, or admonition), at most `windowChars`.
 */
export const leadPassage = (article: Article): Passage => {
  const paragraphs = article.body.split(/\n\s*\n/).map((p) => p.trim())
  const prose = paragraphs.find((p) =>
    p.length >= 40 && !/^(#{1,6} |```|~~~|\||<|>|- \[|\* \[|import |export )/.test(p)
  ) ?? ""
  return { articleId: article.id, title: article.title, section: "", body: prose.slice(0, windowChars), kind: "lead" }
}
