/**
 * An article cut into passages for search: by its Markdown headings, then into windows of
 * paragraphs that overlap by one paragraph, so a passage answering a question keeps the
 * sentence before it. Each passage carries its heading path ("Title › Section › Sub"), which
 * is embedded and searched with it: a paragraph often makes sense only under its heading.
 */

export interface ArticleChunk {
  readonly ordinal: number
  readonly heading: string
  readonly text: string
}

export interface ChunkingOptions {
  /** A window grows paragraph by paragraph up to about this many characters. */
  readonly targetCharacters: number
  /** A paragraph longer than this is cut at sentence ends (or, failing those, hard). */
  readonly maxCharacters: number
}

export const defaultOptions: ChunkingOptions = { targetCharacters: 1000, maxCharacters: 1600 }

const headingLine = /^(#{1,6})\s+(.+?)\s*#*\s*$/
const fence = /^\s*(```|~~~)/

interface Section {
  readonly path: ReadonlyArray<string>
  readonly paragraphs: Array<string>
}

/** Sections in order, each with its heading path and paragraphs (code blocks kept whole). */
const sections = (title: string, body: string): Array<Section> => {
  const result: Array<Section> = []
  let path: Array<{ level: number; text: string }> = []
  let current: Section = { path: [title], paragraphs: [] }
  let paragraph: Array<string> = []
  let inFence = false
  const endParagraph = () => {
    const text = paragraph.join("\n").trim()
    if (text.length > 0) current.paragraphs.push(text)
    paragraph = []
  }
  for (const line of body.split(/\r?\n/)) {
    if (fence.test(line)) inFence = !inFence
    const heading = inFence ? null : headingLine.exec(line)
    if (heading !== null) {
      endParagraph()
      if (current.paragraphs.length > 0) result.push(current)
      const level = heading[1]!.length
      path = [...path.filter((entry) => entry.level < level), { level, text: heading[2]! }]
      // The article's own first heading usually repeats its title.
      const names = path.map((entry) => entry.text).filter((text, i) => i > 0 || text !== title)
      current = { path: [title, ...names], paragraphs: [] }
    } else if (!inFence && line.trim() === "") {
      endParagraph()
    } else {
      paragraph.push(line)
    }
  }
  endParagraph()
  if (current.paragraphs.length > 0) result.push(current)
  return result
}

/** A paragraph no longer than `max`: cut after sentence ends where it can be, else hard. */
const pieces = (paragraph: string, max: number): Array<string> => {
  if (paragraph.length <= max) return [paragraph]
  const sentences = paragraph.match(/[^.!?\n]+(?:[.!?]+|\n|$)\s*/g) ?? [paragraph]
  const result: Array<string> = []
  let piece = ""
  for (const sentence of sentences) {
    if (piece.length > 0 && piece.length + sentence.length > max) {
      result.push(piece.trim())
      piece = ""
    }
    piece += sentence
    while (piece.length > max) {
      result.push(piece.slice(0, max).trim())
      piece = piece.slice(max)
    }
  }
  if (piece.trim().length > 0) result.push(piece.trim())
  return result
}

/** Windows of paragraphs, each about `target` long, the next starting with the last one's final paragraph. */
const windows = (paragraphs: ReadonlyArray<string>, target: number): Array<string> => {
  const result: Array<string> = []
  let start = 0
  while (start < paragraphs.length) {
    let end = start + 1
    let length = paragraphs[start]!.length
    while (end < paragraphs.length && length + paragraphs[end]!.length <= target) {
      length += paragraphs[end]!.length
      end++
    }
    result.push(paragraphs.slice(start, end).join("\n\n"))
    if (end >= paragraphs.length) break
    // Overlap by one paragraph, unless the window was that one paragraph alone.
    start = end - start > 1 ? end - 1 : end
  }
  return result
}

export const chunk = (title: string, body: string, options: ChunkingOptions = defaultOptions): Array<ArticleChunk> => {
  const chunks: Array<ArticleChunk> = []
  for (const section of sections(title, body)) {
    const paragraphs = section.paragraphs.flatMap((paragraph) => pieces(paragraph, options.maxCharacters))
    for (const text of windows(paragraphs, options.targetCharacters)) {
      chunks.push({ ordinal: chunks.length, heading: section.path.join(" › "), text })
    }
  }
  // An article of headings only is still findable by its title.
  return chunks.length > 0 ? chunks : [{ ordinal: 0, heading: title, text: title }]
}

/** What is embedded for a passage: its heading path, then its text. */
export const embeddingText = (chunk: Pick<ArticleChunk, "heading" | "text">) => `${chunk.heading}\n\n${chunk.text}`
