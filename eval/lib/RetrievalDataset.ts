/** The retrieval dataset (eval/retrieval/*.jsonl) and how articles are cut into chunks. */
import * as Fs from "node:fs"
import * as Path from "node:path"

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

const readJsonl = <A>(file: string): Array<A> =>
  Fs.readFileSync(Path.join(dataDir, file), "utf8").split("\n").filter((line) => line.trim() !== "").map(
    (line) => JSON.parse(line) as A
  )

export const articles = (): Array<Article> => readJsonl<Article>("articles.jsonl")

export const questions = (): Array<Question> => readJsonl<Question>("questions.jsonl")

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
