/**
 * The list of matches on a case: articles in their search's order (relevance) and other cases,
 * merged by score, with at most `maxCaseMatches` cases — a case's score (how alike two reports
 * read) runs higher than an article's (whether a page answers), so similar cases must not
 * crowd out the articles.
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

  it("an article first on a tie of scores", () => {
    const ranked = rankMatches([article(1, 0), article(2, 0)], [otherCase(1, 0)])
    expect(ranked.map((match) => match.title)).toEqual(["Article 1", "Article 2", "Case 1"])
  })

  it("keeps each search's order, merging by score: a case goes before the next article it outscores", () => {
    const ranked = rankMatches(
      [article(1, 0.2), article(2, 0.6), article(3, 0.1)],
      [otherCase(1, 0.5), otherCase(2, 0.05)]
    )
    expect(ranked.map((match) => match.title)).toEqual(["Case 1", "Article 1", "Article 2", "Article 3", "Case 2"])
    expect(ranked.map((match) => match.rank)).toEqual([1, 2, 3, 4, 5])
  })
})
