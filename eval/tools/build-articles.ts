/**
 * Builds eval/retrieval/articles.jsonl from the documentation that projects ship inside
 * their npm packages, so the corpus is the real pages at a pinned version and can be
 * rebuilt byte for byte without a network beyond the npm registry.
 *
 * Usage:
 *   mkdir -p /tmp/docs && cd /tmp/docs
 *   for p in next@16.5.0 npm@12.2.3 fastify@5.12.8 pino@10.4.0 eslint-plugin-import@2.32.0 eslint-plugin-jsx-a11y@6.10.2; do
 *     npm pack "$p" && mkdir -p "${p%@*}" && tar xzf "$(ls ${p%@*}-*.tgz | head -1)" -C "${p%@*}"
 *   done
 *   # Express ships no docs in its package: its pages are the expressjs.com repository's Markdown,
 *   # each at the commit listed in eval/retrieval/express-docs.tsv (path, commit, characters)
 *   cd - && tail -n +2 eval/retrieval/express-docs.tsv | while IFS=$'\t' read -r path commit chars; do
 *     mkdir -p "/tmp/docs/expressjs.com/$(dirname "$path")"
 *     curl -sfo "/tmp/docs/expressjs.com/$path" "https://raw.githubusercontent.com/expressjs/expressjs.com/$commit/$path"
 *   done
 *   pnpm exec tsx eval/tools/build-articles.ts /tmp/docs
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

interface Source {
  readonly product: string
  /** Folder inside the extracted package holding the Markdown pages. */
  readonly root: string
  readonly url: (relative: string, raw: string) => string
  /** Pages without front matter whose first heading is a logo or a sub-section, not the page's subject. */
  readonly titleFromFileName?: boolean
  /** Only these pages (path relative to root, without extension); all Markdown under root otherwise. */
  readonly include?: (relative: string) => boolean
  /** The page's id within the product, when it is not its path. */
  readonly pageId?: (relative: string) => string
  /** Title when the page has no front matter title, before the generic fallbacks. */
  readonly title?: (raw: string) => string | undefined
  /** Source-specific clean-up before the common one. */
  readonly preClean?: (text: string) => string
}

/** The `<h2 id="…">` / `<h3 id='…'>` heading opening an expressjs.com API entry. */
const htmlHeading = (raw: string) => /<h[1-4][^>]*>([^<]+)<\/h[1-4]>/.exec(raw)
const htmlHeadingId = (raw: string) => /<h[1-4][^>]*\bid=["']([^"']+)["']/.exec(raw)?.[1]

/** expressjs.com API entries (`_includes/api/en/4x/x.md`) are pages `api/x`; guide, starter and advanced keep their path. */
const expressPage = (relative: string) => relative.replace(/^_includes\/api\/en\/4x\//, "api/").replace(/^en\//, "")

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
  },
  {
    // One page per lint rule; each starts with its `# import/<rule>` heading.
    product: "eslint-plugin-import",
    root: "eslint-plugin-import/package/docs",
    url: (relative) => `https://github.com/import-js/eslint-plugin-import/blob/v2.32.0/docs/${relative}.md`
  },
  {
    product: "eslint-plugin-jsx-a11y",
    root: "eslint-plugin-jsx-a11y/package/docs",
    url: (relative) => `https://github.com/jsx-eslint/eslint-plugin-jsx-a11y/blob/v6.10.2/docs/${relative}.md`
  },
  {
    // The Express 4.x API reference (one page per entry, as the site includes them into api.html)
    // and the English guide, starter and advanced pages; Jekyll/Liquid tags are dropped.
    product: "express",
    root: "expressjs.com",
    include: (relative) =>
      /^_includes\/api\/en\/4x\/[^/]+$/.test(relative) || /^en\/(guide|starter|advanced)\/[^/]+$/.test(relative),
    pageId: expressPage,
    url: (relative, raw) =>
      relative.startsWith("_includes/")
        ? `https://expressjs.com/en/4x/api.html#${htmlHeadingId(raw) ?? "app.settings.table"}`
        : `https://expressjs.com/${relative}.html`,
    title: (raw) => htmlHeading(raw)?.[1]?.trim(),
    preClean: (text) =>
      text.replace(/\{\{\s*page\.lang\s*\}\}/g, "en").replace(/\{%[\s\S]*?%\}/g, "").replace(/\{\{[\s\S]*?\}\}/g, "")
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
      if (source.include !== undefined && !source.include(relative)) continue
      const raw = Fs.readFileSync(file, "utf8")
      const body = clean(source.preClean ? source.preClean(raw) : raw)
      if (body.length < 40) continue
      const title = frontMatterTitle(raw) ?? source.title?.(raw) ??
        (source.titleFromFileName ? humanize(relative) : firstHeading(body)) ?? humanize(relative)
      lines.push(JSON.stringify({
        id: `${source.product}/${source.pageId ? source.pageId(relative) : relative}`,
        product: source.product,
        title,
        url: source.url(relative, raw),
        body: body.length > maxBodyChars ? body.slice(0, maxBodyChars) : body
      }))
    }
  }
  const out = Path.join(import.meta.dirname, "../retrieval/articles.jsonl")
  Fs.writeFileSync(out, lines.join("\n") + "\n")
  console.log(`${lines.length} articles written to ${Path.relative(process.cwd(), out)}`)
}

main()
