/** How a folder of Markdown files reads as articles: which files, their titles, bodies and URLs. */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MarkdownFolder from "../src/MarkdownFolder.js"

describe("MarkdownFolder", () => {
  it("lists .md and .mdx files recursively, sorted, without hidden folders, node_modules or other files", () => {
    const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-md-"))
    for (const file of ["b.md", "a/z.MDX", "a/y.md", ".git/x.md", "node_modules/p/README.md", "c.txt", "d.markdown"]) {
      Fs.mkdirSync(Path.dirname(Path.join(root, file)), { recursive: true })
      Fs.writeFileSync(Path.join(root, file), "# x\n")
    }
    Fs.symlinkSync(Path.join(root, "b.md"), Path.join(root, "link.md"))
    Fs.symlinkSync(root, Path.join(root, "a", "loop")) // a folder link is not followed
    expect(MarkdownFolder.list(root).map((file) => file.relativePath)).toEqual(["a/y.md", "a/z.MDX", "b.md", "link.md"])
    expect(MarkdownFolder.folderName(Path.join(root, "a"))).toBe("a")
    expect(MarkdownFolder.sourcePath("docs", "a/y.md")).toBe("docs/a/y.md")
  })

  it("titles: the first # heading, else the front matter's title, else the file name", () => {
    const title = (path: string, content: string) => MarkdownFolder.parse(path, "docs", content).title
    expect(title("x.md", "Intro line\n\n# The `config` file\n\n# Second\n")).toBe("The config file")
    expect(title("x.md", "## Not level one\n\nSetext title\n============\n")).toBe("Setext title")
    expect(title("x.md", "```sh\n# a shell comment\n```\n\n# After the code\n")).toBe("After the code")
    expect(title("x.md", "# See [the guide](./guide.md) #\n")).toBe("See the guide")
    expect(title("x.md", "---\ntitle: 'From front matter'\nslug: /x\n---\nText.\n")).toBe("From front matter")
    expect(title("x.md", "---\ntitle: Ignored\n---\n# The heading wins\n")).toBe("The heading wins")
    expect(title("guides/getting-started.md", "Just text.\n")).toBe("Getting started")
    expect(title("guides/index.mdx", "Just text.\n")).toBe("Guides")
    expect(title("README.md", "Just text.\n")).toBe("Docs")
    expect(title("x.md", `# ${"word ".repeat(100)}`).length).toBeLessThanOrEqual(300)
  })

  it("the body is the file without its front matter (and without a byte-order mark)", () => {
    expect(MarkdownFolder.parse("x.md", "docs", "\uFEFF---\ntitle: T\n---\n# H\n\nText.\n").body).toBe("# H\n\nText.\n")
    expect(MarkdownFolder.parse("x.md", "docs", "# H\n\n---\n\nA rule, not front matter.\n").body)
      .toBe("# H\n\n---\n\nA rule, not front matter.\n")
  })

  it("URLs: the path without its extension under the base; an index or README stands for its folder", () => {
    expect(MarkdownFolder.urlFor("https://docs.example.com", "guides/install.md")).toBe("https://docs.example.com/guides/install")
    expect(MarkdownFolder.urlFor("https://example.com/docs/", "guides/index.mdx")).toBe("https://example.com/docs/guides/")
    expect(MarkdownFolder.urlFor("https://example.com/docs", "README.md")).toBe("https://example.com/docs/")
    expect(MarkdownFolder.urlFor("https://example.com/", "a b/c?d#e.md")).toBe("https://example.com/a%20b/c%3Fd%23e")
  })
})
