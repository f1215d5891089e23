/**
 * A folder of Markdown files read as knowledge-base articles (`pnpm kb import`): which files
 * count, what each one's title, body, path and URL are. No database here; `Knowledge.importArticle`
 * writes what this reads.
 *
 * An article's path is `<folder name>/<path inside the folder>` (`docs/guides/install.md`):
 * importing the same folder again — from anywhere, under the same name — finds the same
 * articles, and two folders imported into one product (`docs/`, `faq/`) keep apart, each
 * with its own `index.md`.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

export interface MarkdownFile {
  /** Inside the folder, with `/`: `guides/install.md`. */
  readonly relativePath: string
  readonly absolutePath: string
}

export interface ParsedArticle {
  readonly title: string
  /** The file without its front matter. */
  readonly body: string
}

const extensions = /\.(md|mdx)$/i

/** Titles are at most 300 characters (`NewArticle`); a longer heading is cut at a word. */
const maxTitle = 300

/**
 * The `.md` and `.mdx` files under `root`, sorted by path. Hidden entries (`.git`) and
 * `node_modules` are skipped; a symbolic link is followed to a file, never into a folder
 * (a link cycle would not end).
 */
export const list = (root: string): Array<MarkdownFile> => {
  const found: Array<MarkdownFile> = []
  const walk = (dir: string, relative: string) => {
    for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue
      const absolutePath = Path.join(dir, entry.name)
      const relativePath = relative === "" ? entry.name : `${relative}/${entry.name}`
      if (entry.isDirectory()) walk(absolutePath, relativePath)
      else if (extensions.test(entry.name) && (entry.isFile() || isLinkToFile(absolutePath))) {
        found.push({ relativePath, absolutePath })
      }
    }
  }
  walk(root, "")
  return found.sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0))
}

const isLinkToFile = (path: string) => {
  try {
    return Fs.statSync(path).isFile()
  } catch {
    return false // a dangling link
  }
}

/** The name a folder's articles are stored under: its own name (`/srv/acme/docs` → `docs`). */
export const folderName = (root: string) => Path.basename(Path.resolve(root)) || "root"

/** The path an article read from `relativePath` in a folder named `folder` is stored under. */
export const sourcePath = (folder: string, relativePath: string) => `${folder}/${relativePath}`

const fence = /^\s*(```|~~~)/
const atxHeading1 = /^#\s+(.+?)(?:\s+#+)?\s*$/
const setextUnderline1 = /^=+\s*$/

/** `---` YAML front matter at the very top, as static-site generators (Docusaurus, Hugo, Jekyll) write it. */
const splitFrontMatter = (text: string): { readonly front: string | null; readonly body: string } => {
  const match = /^---[ \t]*\r?\n([\s\S]*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/.exec(text)
  return match === null ? { front: null, body: text } : { front: match[1]!, body: text.slice(match[0].length) }
}

const frontMatterTitle = (front: string | null) => {
  const line = front === null ? null : /^title:[ \t]*(.+?)[ \t]*$/m.exec(front)
  if (line === null || line === undefined) return null
  const value = line[1]!
  const quoted = /^(["'])(.*)\1$/.exec(value)
  return quoted === null ? value : quoted[2]!
}

/** Inline Markdown a title shows literally otherwise: links keep their text, code loses its backticks. */
const plainInline = (text: string) =>
  text.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/`([^`]*)`/g, "$1").replace(/\s+/g, " ").trim()

/** The first level-1 heading outside code blocks: `# Title`, or `Title` underlined with `===`. */
const firstHeading = (body: string) => {
  const lines = body.split(/\r?\n/)
  let inFence = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (fence.test(line)) {
      inFence = !inFence
      continue
    }
    if (inFence) continue
    const atx = atxHeading1.exec(line)
    if (atx !== null) return atx[1]!
    const next = lines[i + 1]
    if (line.trim() !== "" && !/^\s{4,}/.test(line) && next !== undefined && setextUnderline1.test(next)) return line.trim()
  }
  return null
}

/** `guides/getting-started.md` → "Getting started"; an `index` or `README` is named by its folder. */
const titleFromPath = (relativePath: string, folder: string) => {
  const parts = relativePath.split("/")
  let name = parts[parts.length - 1]!.replace(extensions, "")
  if (/^(index|readme)$/i.test(name)) name = parts.length > 1 ? parts[parts.length - 2]! : folder
  const words = name.replace(/[-_]+/g, " ").trim()
  return words === "" ? name : words.charAt(0).toUpperCase() + words.slice(1)
}

const cut = (title: string) => {
  if (title.length <= maxTitle) return title
  const head = title.slice(0, maxTitle - 1)
  const space = head.lastIndexOf(" ")
  return `${space > maxTitle / 2 ? head.slice(0, space) : head}…`
}

/**
 * A file's article: its title is the first `# heading`, else the front matter's `title:`,
 * else the file name; its body is the file without front matter (the heading stays: the
 * passages under it are cut from the body).
 */
export const parse = (relativePath: string, folder: string, content: string): ParsedArticle => {
  const text = content.replace(/^\uFEFF/, "")
  const { body, front } = splitFrontMatter(text)
  const heading = firstHeading(body)
  const title = [heading, frontMatterTitle(front)]
    .map((candidate) => (candidate === null ? "" : plainInline(candidate)))
    .find((candidate) => candidate !== "") ?? titleFromPath(relativePath, folder)
  return { title: cut(title), body }
}

/**
 * The page a file becomes on a docs site whose root is `base`: the path without its
 * extension, an `index` or `README` standing for its folder —
 * `https://docs.example.com/` + `guides/install.md` → `https://docs.example.com/guides/install`.
 */
export const urlFor = (base: string, relativePath: string) => {
  const parts = relativePath.replace(extensions, "").split("/")
  if (/^(index|readme)$/i.test(parts[parts.length - 1]!)) parts[parts.length - 1] = ""
  const root = base.endsWith("/") ? base : `${base}/`
  return new URL(parts.map(encodeURIComponent).join("/"), root).toString()
}
