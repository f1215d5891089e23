import { describe, expect, it } from "@effect/vitest"
import type { PassageHit } from "@nestfleet/db/KnowledgeRepo"
import { CaseId, CaseMatch } from "@nestfleet/domain/Cases"
import { ChangePrep, Risk, SuspectedComponent } from "@nestfleet/domain/ChangePreps"
import { Citation } from "@nestfleet/domain/Drafts"
import { ArticleId } from "@nestfleet/domain/Knowledge"
import { ProductSettings } from "@nestfleet/domain/Products"
import { Either, Schema } from "effect"
import * as AutoReply from "../src/AutoReply.js"
import * as ChangePrepMarkdown from "../src/ChangePrepMarkdown.js"
import * as ReplyGuard from "../src/ReplyGuard.js"
import * as ReplyPolicy from "../src/ReplyPolicy.js"
import { failureOfStatus } from "../src/ReplyTarget.js"

const articleId = (n: number) => Schema.decodeSync(ArticleId)(`00000000-0000-4000-8000-${String(n).padStart(12, "0")}`)

const article = (n: number, score: number) =>
  new CaseMatch({ kind: "article", articleId: articleId(n), title: `Article ${n}`, url: null, score, rank: n, snippet: "" })

const hit = (article: number, chunk: string, words: number): PassageHit =>
  ({
    chunkId: chunk,
    articleId: articleId(article),
    title: `Article ${article}`,
    url: null,
    heading: "",
    text: `text of ${chunk}`,
    similarity: null,
    words
  }) as PassageHit

describe("ReplyGuard", () => {
  const retrieved = new Set([1, 2, 3])
  it("passes a draft citing retrieved sources, and says which", () => {
    expect(ReplyGuard.check("Filter by date [2]. Then export [1][2].", retrieved)).toEqual(Either.right([2, 1]))
  })
  it("refuses an empty draft, one citing nothing, and one citing what was not retrieved", () => {
    expect(ReplyGuard.check("  \n", retrieved)).toEqual(Either.left("The draft is empty"))
    expect(ReplyGuard.check("Just restart it.", retrieved)).toEqual(Either.left("The draft cites no source"))
    expect(ReplyGuard.check("See [1] and [7] and [9].", retrieved)).toEqual(
      Either.left("The draft cites [7], [9], which were not retrieved")
    )
  })
})

describe("ReplyPolicy", () => {
  const auto = new ProductSettings({
    ...ProductSettings.defaults,
    replyMode: "auto",
    autoSendMinConfidence: 0.8,
    matchMinSimilarity: 0.5,
    autoSendTypes: ["question", "bug"]
  })
  const sure = { type: "question", confidence: 0.9, bestArticle: 0.7 } as const

  it("sends in auto mode only when type, confidence and match all allow it", () => {
    expect(ReplyPolicy.decide(auto, sure).send).toBe(true)
    expect(ReplyPolicy.decide(ProductSettings.defaults, sure)).toEqual({ send: false, reason: "the product's replies wait for approval" })
    expect(ReplyPolicy.decide(auto, { ...sure, type: "billing" })).toEqual({ send: false, reason: "a billing is not sent without approval" })
    expect(ReplyPolicy.decide(auto, { ...sure, confidence: 0.79 }).send).toBe(false)
    expect(ReplyPolicy.decide(auto, { ...sure, confidence: null }).send).toBe(false)
    expect(ReplyPolicy.decide(auto, { ...sure, bestArticle: 0.49 }).send).toBe(false)
    expect(ReplyPolicy.decide(auto, { ...sure, type: null }).send).toBe(false)
  })

  it("never sends an incident, whatever the settings say", () => {
    // The settings refuse it (a 400 at the API); the policy does not rely on that.
    expect(() => new ProductSettings({ ...auto, autoSendTypes: ["incident"] })).toThrow("An incident is never answered without a person")
    const careless = new ProductSettings({ ...auto, autoSendTypes: ["incident"] }, { disableValidation: true })
    expect(ReplyPolicy.decide(careless, { ...sure, type: "incident" }).send).toBe(false)
  })
})

describe("AutoReply", () => {
  it("draws on the articles at the threshold; a person's request takes the best and those at half its score", () => {
    const matches = [article(1, 0.3), article(2, 0.2), article(3, 0.1), article(4, 0.05)]
    expect(AutoReply.chooseArticles(matches, 0.15, "matched").map((m) => m.title)).toEqual(["Article 1", "Article 2"])
    expect(AutoReply.chooseArticles(matches, 0.5, "matched")).toEqual([])
    expect(AutoReply.chooseArticles(matches, 0.5, "requested").map((m) => m.title)).toEqual(["Article 1", "Article 2"])
  })

  it("numbers each article's most relevant passages in the articles' order", () => {
    const hits = [hit(2, "b1", 0.9), hit(1, "a1", 0.2), hit(1, "a2", 0.6), hit(1, "a3", 0.4), hit(3, "c1", 1)]
    const sources = AutoReply.sourcesOf([article(1, 0.3), article(2, 0.2)], hits)
    expect(sources.map((source) => [source.n, source.chunkId])).toEqual([[1, "a2"], [2, "a3"], [3, "b1"]])
  })

  it("puts the body in the product's templates and lists its sources", () => {
    const settings = new ProductSettings({ ...ProductSettings.defaults, replyGreeting: "Hello {name}!", replyClosing: "— {name}'s helpers" })
    const citations = [
      new Citation({ n: 1, articleId: articleId(1), chunkId: "a", title: "Exports", url: "https://docs.example.com/exports" }),
      new Citation({ n: 3, articleId: articleId(2), chunkId: "b", title: "Filters", url: null })
    ]
    expect(AutoReply.compose(settings, "Ada", "Filter first [3], then export [1].", citations)).toBe(
      "Hello Ada!\n\nFilter first [3], then export [1].\n\nSources:\n[1] Exports — https://docs.example.com/exports\n[3] Filters\n\n— Ada's helpers"
    )
    expect(AutoReply.compose(ProductSettings.defaults, null, "Body [1]", [])).toBe("Hi there,\n\nBody [1]\n\nBest regards,\nThe support team")
  })
})

describe("ReplyTarget", () => {
  it("retries what may heal (timeouts, rate limits, server errors) and stops at any other refusal", () => {
    expect(failureOfStatus(200, "The target")).toBeNull()
    expect(failureOfStatus(204, "The target")).toBeNull()
    for (const status of [408, 425, 429, 500, 502, 503]) expect(failureOfStatus(status, "The target")?.permanent).toBe(false)
    for (const status of [400, 401, 403, 404, 410, 422]) expect(failureOfStatus(status, "The target")?.permanent).toBe(true)
    expect(failureOfStatus(404, "The target")?.reason).toBe("The target answered HTTP 404")
  })
})

describe("ChangePrepMarkdown", () => {
  it("renders every section, numbered steps and unticked test items, and says what is missing", () => {
    const prep = new ChangePrep({
      caseId: Schema.decodeSync(CaseId)("00000000-0000-4000-8000-000000000001"),
      title: "Fix: Export crashes",
      summary: "A bug (high) reported by a customer: it crashes.",
      reproduction: ["Open Reports", "Click Export"],
      components: [new SuspectedComponent({ name: "Exports", pathHints: ["src/export/"], why: "the messages name `src/export/`" })],
      surfaces: ["Exports"],
      risk: new Risk({ level: "medium", reasons: ["triage rated it high"] }),
      testPlan: ["Add a regression test"],
      rollback: "Revert the pull request",
      relatedCases: [],
      author: "builtin/builtin-heuristics",
      createdAt: new Date(0)
    })
    const markdown = ChangePrepMarkdown.render(prep, 12)
    expect(markdown).toBe([
      "# Fix: Export crashes",
      "A bug (high) reported by a customer: it crashes.",
      "## Reproduction\n\n1. Open Reports\n2. Click Export",
      "## Suspected components\n\n- **Exports** (`src/export/`) — the messages name `src/export/`",
      "## Affected surfaces\n\n- Exports",
      "## Risk: medium\n\n- triage rated it high",
      "## Test plan\n\n- [ ] Add a regression test",
      "## Rollback\n\nRevert the pull request",
      "---\nPrepared by NestFleet from case #12 (builtin/builtin-heuristics).\n"
    ].join("\n\n"))
    expect(ChangePrepMarkdown.render(new ChangePrep({ ...prep, reproduction: [], components: [] }), 12)).toContain(
      "## Reproduction\n\n_The report gives no steps._\n\n## Suspected components\n\n_The report names none of the product's components._"
    )
  })
})
