/**
 * How found passages become ranked articles (`Knowledge.bestPerArticle`): each passage's
 * relevance mixes its meaning (cosine, scaled between the query's worst and best) and its
 * words (their share, over the best found); an article is its best passage plus half its
 * second best; its score comes from its best passage through the model's curve. And what a
 * case is searched by (`CaseText.tidy`).
 */
import { describe, expect, it } from "@effect/vitest"
import { PassageHit } from "@nestfleet/db/KnowledgeRepo"
import { ArticleId } from "@nestfleet/domain/Knowledge"
import * as CaseText from "../src/CaseText.js"
import { bestPerArticle, meaningWeight, relevanceOf, secondPassageWeight } from "../src/Knowledge.js"
import * as MatchScore from "../src/MatchScore.js"

let chunks = 0
const hit = (article: number, similarity: number | null, words: number) =>
  new PassageHit({
    chunkId: `c${String(++chunks).padStart(4, "0")}`,
    articleId: ArticleId.make(`00000000-0000-4000-8000-${String(article).padStart(12, "0")}`),
    title: `Article ${article}`,
    url: `https://docs.example/${article}`,
    heading: `Article ${article}`,
    text: `Passage ${chunks} of article ${article}.`,
    similarity,
    words
  })

const model: MatchScore.ScoredModel = { provider: "test", model: "test", curve: { midpoint: 0.5, slope: 10, words: 4 } }

describe("relevanceOf", () => {
  it("mixes meaning scaled over the query's hits and words over the most found", () => {
    const relevance = relevanceOf([hit(1, 0.9, 0.2), hit(2, 0.5, 0.4), hit(3, 0.7, 0), hit(4, null, 0.1)])
    expect(relevance[0]).toBeCloseTo(meaningWeight * 1 + (1 - meaningWeight) * 0.5)
    expect(relevance[1]).toBeCloseTo(meaningWeight * 0 + (1 - meaningWeight) * 1)
    expect(relevance[2]).toBeCloseTo(meaningWeight * 0.5)
    expect(relevance[3]).toBeCloseTo((1 - meaningWeight) * 0.25) // no vector: no meaning
  })

  it("words alone without any vector; nothing but zeros when nothing matched", () => {
    expect(relevanceOf([hit(1, null, 0.3), hit(2, null, 0.6)])).toEqual([0.5, 1])
    expect(relevanceOf([hit(1, 0.8, 0), hit(2, 0.8, 0)])).toEqual([meaningWeight, meaningWeight])
    expect(relevanceOf([])).toEqual([])
  })
})

describe("bestPerArticle", () => {
  it("one match per article, as relevant as its best passage plus half its second, showing its best", () => {
    // Article 1: one strong passage (words 1.0); article 2: two good ones (0.8 and 0.6).
    const hits = [hit(1, 0.6, 1), hit(2, 0.6, 0.8), hit(2, 0.6, 0.6), hit(3, 0.6, 0.1)]
    const matches = bestPerArticle(hits, model)
    expect(matches.map((match) => match.item.title)).toEqual(["Article 2", "Article 1", "Article 3"])
    const [second, first] = [0.6 * (1 - meaningWeight) + meaningWeight, 0.8 * (1 - meaningWeight) + meaningWeight]
    expect(first + secondPassageWeight * second).toBeGreaterThan(1 * (1 - meaningWeight) + meaningWeight)
    expect(matches[0]!.item.snippet).toBe(hits[1]!.text)
    expect(matches[0]).toMatchObject({ similarity: 0.6, words: 0.8 })
  })

  it("scores each article by its best passage through the model's curve; without a model, 0", () => {
    const [match] = bestPerArticle([hit(1, 0.7, 0.5)], model)
    expect(match!.item.score).toBeCloseTo(1 / (1 + Math.exp(-(10 * (0.7 - 0.5) + 4 * 0.5))), 4)
    expect(bestPerArticle([hit(1, null, 0.5)], model)[0]!.item.score).toBe(0)
    expect(bestPerArticle([hit(1, 0.7, 0.5)], null)[0]!.item.score).toBe(0)
  })
})

describe("CaseText.tidy", () => {
  it("leaves out URLs, images, stack frames, template headings and check boxes; keeps code without fences", () => {
    const message = [
      "### Describe the bug",
      "Redirects loop after upgrading, see https://example.com/logs/123 and ![shot](https://img.example/x.png).",
      "- [x] I searched the existing issues",
      "```js",
      "res.redirect(301, '/login')",
      "```",
      "Error: too many redirects",
      "    at Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)",
      "**Expected behavior**",
      "One redirect, per the [guide](https://docs.example/redirects)."
    ].join("\n")
    expect(CaseText.tidy(message)).toBe([
      "Redirects loop after upgrading, see   and  .",
      "",
      "res.redirect(301, '/login')",
      "",
      "Error: too many redirects",
      "One redirect, per the guide."
    ].join("\n"))
  })
})
