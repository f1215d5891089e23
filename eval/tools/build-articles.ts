/**
 * Builds eval/retrieval/articles.jsonl from the documentation that projects ship inside
 * their npm packages, so the corpus is the real pages at a pinned version and can be
 * rebuilt byte for byte without a network beyond the npm registry.
 *
 * Usage:
 *   mkdir -p /tmp/docs && cd /tmp/docs
 *   for p in next@16.5.0 npm@12.2.3 fastify@5.12.8 pino@10.4.0; do
 *     npm pack "$p" && mkdir -p "${p%@*}" && tar xzf "$(ls ${p%@*}-*.tgz | head -1)" -C "${p%@*}"
 *   done
 *   pnpm exec tsx eval/tools/build-articles.ts /tmp/docs
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

interface Source {
  readonly product: string
  /** Folder inside the extracted package holding the Markdown pages. */
  readonly root: string
  readonly url: (relative: string) => string
  /** Pages without front matter whose first heading is a logo or a sub-section, not the page's subject. */
  readonly titleFromFileName?: boolean
}

const sources: ReadonlyArray<Source> = [
  {
    product: "nextjs",
    root: "next/package/dist/docs",
    url: (relative) => `https://nextjs.org/docs/${relative.replace(/(^|\/)index$/, "")}`.replace(/\/$/, "")
  },
  {
    product: "npm",
    root: "npm/package/docs/content",
    url: (relative) => `https://docs.npmjs.com/cli/v12/${relative}`
  },
  {
    product: "fastify",
    root: "fastify/package/docs",
    url: (relative) => `https://fastify.dev/docs/latest/${relative}/`,
    titleFromFileName: true
  },
  {
    product: "pino",
    root: "pino/package/docs",
    url: (relative) => `https://getpino.io/#/docs/${relative}`,
    titleFromFileName: true
  }
]

/** Pages are long tails of examples; the head carries what a retriever needs, and the file stays reviewable. */
const maxBodyChars = 20_000

const markdownFiles = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = Path.join(dir, entry.name)
    return entry.isDirectory() ? markdownFiles(full) : /\.mdx?$/.test(entry.name) ? [full] : []
  })

const frontMatterTitle = (text: string) => /^---\n[\s\S]*?^title:\s*"?(.+?)"?\s*$/m.exec(text)?.[1]

const stripFrontMatter = (text: string) => text.replace(/^---\n[\s\S]*?\n---\n/, "")

const clean = (text: string) =>
  stripFrontMatter(text)
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/<a (?:id|name)="[^"]*"><\/a>\n?/g, "")
    .replace(/\n{3,}/g, "\n\n")
    .trim()

const firstHeading = (text: string) => /^#{1,2}\s+(.+)$/m.exec(text)?.[1]?.replace(/<[^>]+>/g, "").trim()

const humanize = (relative: string) => Path.basename(relative).replace(/[-_]/g, " ")

const main = () => {
  const base = process.argv[2]
  if (base === undefined) throw new Error("Pass the folder holding the extracted packages")
  const lines: Array<string> = []
  for (const source of sources) {
    const root = Path.join(base, source.root)
    for (const file of markdownFiles(root).sort()) {
      const relative = Path.relative(root, file).replace(/\\/g, "/").replace(/\.mdx?$/, "")
      const raw = Fs.readFileSync(file, "utf8")
      const body = clean(raw)
      if (body.length < 40) continue
      const title = frontMatterTitle(raw) ?? (source.titleFromFileName ? humanize(relative) : firstHeading(body)) ??
        humanize(relative)
      lines.push(JSON.stringify({
        id: `${source.product}/${relative}`,
        product: source.product,
        title,
        url: source.url(relative),
        body: body.length > maxBodyChars ? body.slice(0, maxBodyChars) : body
      }))
    }
  }
  const out = Path.join(import.meta.dirname, "../retrieval/articles.jsonl")
  Fs.writeFileSync(out, lines.join("\n") + "\n")
  console.log(`${lines.length} articles written to ${Path.relative(process.cwd(), out)}`)
}

main()
