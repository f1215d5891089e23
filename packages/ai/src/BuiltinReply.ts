/**
 * The builtin provider's reply: extractive. From each of the best few articles, the part of
 * its most relevant passage that shares most words with what the customer wrote — a
 * paragraph, a list or a code block, with the next one when it is short — quoted word for word
 * and cited. Nothing is written that a source does not say.
 */
import * as ContentWords from "./ContentWords.js"
import type { ReplyInput, ReplyOutput, ReplySource } from "./ReplyTask.js"

/** Articles quoted at most: more reads as a search result, not a reply. */
export const maxQuotedArticles = 3
/** A quote grows by the next block while it stays this short. */
export const maxQuoteCharacters = 600

/** A passage's blocks: paragraphs, lists and fenced code blocks (kept whole, blank lines and all). */
export const blocksOf = (text: string): Array<string> => {
  const blocks: Array<string> = []
  let current: Array<string> = []
  let fenced = false
  const close = () => {
    if (current.some((line) => line.trim() !== "")) blocks.push(current.join("\n").trim())
    current = []
  }
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced
    if (!fenced && line.trim() === "" && !/^\s*(```|~~~)/.test(line)) close()
    else current.push(line)
  }
  close()
  return blocks
}

/** How much of the question a block holds: shared words, less for long blocks. */
const overlap = (question: ReadonlySet<string>, block: string) => {
  const words = ContentWords.of(block)
  let shared = 0
  for (const word of words) if (question.has(word)) shared++
  return shared / Math.sqrt(Math.max(words.size, 1))
}

/** The quote taken from one source: its best block, and the following ones while the quote is short. */
export const quoteOf = (question: ReadonlySet<string>, source: ReplySource): string => {
  const blocks = blocksOf(source.text)
  if (blocks.length === 0) return ""
  let best = 0
  blocks.forEach((block, i) => {
    if (overlap(question, block) > overlap(question, blocks[best]!)) best = i
  })
  let quote = blocks[best]!
  for (let next = best + 1; next < blocks.length && quote.length < maxQuoteCharacters / 2; next++) {
    if (quote.length + blocks[next]!.length > maxQuoteCharacters) break
    quote = `${quote}\n\n${blocks[next]}`
  }
  return quote
}

const quoted = (text: string) =>
  text.split("\n").map((line) => line.trim() === "" ? ">" : `> ${line}`).join("\n")

export const reply = (input: ReplyInput): ReplyOutput => {
  const question = ContentWords.of([input.subject, ...input.messages.filter((m) => m.from === "customer").map((m) => m.body)].join("\n"))
  // The first (most relevant) passage of each article.
  const seen = new Set<string>()
  const chosen = input.sources.filter((source) => {
    const key = source.url ?? source.title
    if (seen.has(key) || seen.size >= maxQuotedArticles) return false
    seen.add(key)
    return true
  })
  const parts = chosen.flatMap((source) => {
    const quote = quoteOf(question, source)
    if (quote === "") return []
    // The heading path without the title it starts with.
    const section = source.heading.startsWith(`${source.title} › `) ? source.heading.slice(source.title.length + 3) : source.heading
    const where = section !== "" && section !== source.title ? `"${source.title}" (${section})` : `"${source.title}"`
    return [{ n: source.n, text: `From ${where} [${source.n}]:\n\n${quoted(quote)}` }]
  })
  if (parts.length === 0) return { body: "", cited: [] }
  const lead = parts.length === 1 ? "Our documentation covers this:" : "Our documentation covers this in these places:"
  return { body: [lead, ...parts.map((part) => part.text)].join("\n\n"), cited: parts.map((part) => part.n) }
}
