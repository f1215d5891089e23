/**
 * The list of matches on a case: articles and other cases by score, with at most
 * `maxCaseMatches` cases — a case's score (how alike two reports read) runs higher than an
 * article's (whether a page answers), so similar cases must not crowd out the articles.
 */
import { describe, expect, it } from "@effect/vitest"
import { ArticleId } from "@nestfleet/domain/Knowledge"
import { CaseId } from "@nestfleet/domain/Cases"
import { maxCaseMatches, maxMatches, rankMatches } from "../src/KnownIssueMatch.js"

const article = (i: number, score: number) => ({
  kind: "article" as const,
  articleId: ArticleId.make(`00000000-0000-4000-8000-${String(i).padStart(12, "0")}`),
  title: `Article ${i}`,
  url: null,
  score,
  snippet: ""
})

const otherCase = (i: number, score: number) => ({
  kind: "case" as const,
  caseId: CaseId.make(`10000000-0000-4000-8000-${String(i).padStart(12, "0")}`),
  caseNumber: i,
  title: `Case ${i}`,
  score,
  snippet: `#${i} · new`
})

describe("rankMatches", () => {
  it("lists at most maxCaseMatches cases, then articles fill the list, best first, ranked from 1", () => {
    const ranked = rankMatches(
      Array.from({ length: 12 }, (_, i) => article(i, 0.05 - i / 1000)),
      Array.from({ length: 8 }, (_, i) => otherCase(i, 0.95 - i / 100))
    )
    expect(ranked).toHaveLength(maxMatches)
    expect(ranked.filter((match) => match.kind === "case")).toHaveLength(maxCaseMatches)
    expect(ranked.map((match) => match.title)).toEqual([
      ...Array.from({ length: maxCaseMatches }, (_, i) => `Case ${i}`),
      ...Array.from({ length: maxMatches - maxCaseMatches }, (_, i) => `Article ${i}`)
    ])
    expect(ranked.map((match) => match.rank)).toEqual(Array.from({ length: maxMatches }, (_, i) => i + 1))
  })

  it("on equal scores, goes by the rank each search gave (an article first on a tie of ranks)", () => {
    const ranked = rankMatches([article(1, 0), article(2, 0)], [otherCase(1, 0)])
    expect(ranked.map((match) => match.title)).toEqual(["Article 1", "Case 1", "Article 2"])
  })
})
