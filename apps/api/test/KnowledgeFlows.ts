/** Knowledge-base fixtures and waits shared by the knowledge, matching and drafts tests. */
import { expect } from "@effect/vitest"
import * as Database from "@nestfleet/db/Database"
import { type Duration, Effect, Schedule } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import { channelOf, type ChannelType } from "./IntakeFlows.js"

export const query = <Row = Record<string, unknown>>(text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.flatMap(Database.Database, ({ pool }) =>
    Effect.promise(() => pool.query(text, [...values]).then((result) => result.rows as Array<Row>)))

export interface ArticleBody {
  readonly id: string
  readonly version: number
  readonly embeddingState: string
  readonly status: string
  readonly tags: ReadonlyArray<string>
  readonly url: string | null
}

export interface Detail {
  readonly case: { readonly id: string; readonly status: string; readonly number: number }
  readonly matches: ReadonlyArray<
    {
      kind: string
      articleId?: string
      caseId?: string
      caseNumber?: number
      score: number
      rank: number
      title: string
      evidence: { meaning: number | null; words: number | null }
    }
  >
  readonly matchReasoning: ReadonlyArray<{ step: string; detail: string }>
  readonly routing: { decision: string; reason: string; at: string } | null
  readonly duplicate: { caseId: string; caseNumber: number; state: string; score: number | null } | null
  readonly aiCalls: ReadonlyArray<unknown>
  readonly timeline: ReadonlyArray<{ kind: string; data: Record<string, unknown> }>
}

export const articles = {
  export: {
    title: "Exporting reports to CSV",
    body: "# Exporting reports to CSV\n\nOpen Reports, choose a report and click Export. Large exports are sent by " +
      "email when they are ready.\n\n## When the export fails\n\nAn export of more than a million rows fails with " +
      "the error EXPORT_TOO_LARGE. Filter the report by date to export it in parts.",
    url: "https://docs.example.com/reports/export",
    tags: ["reports"]
  },
  sso: {
    title: "Single sign-on with SAML",
    body: "# Single sign-on with SAML\n\nAdmins connect an identity provider under Settings, Security. Upload the " +
      "provider's metadata XML and map the email attribute.\n\n## Troubleshooting\n\nA login loop usually means the " +
      "clock of the identity provider is off by more than five minutes.",
    url: "https://docs.example.com/security/sso",
    tags: ["security"]
  },
  billing: {
    title: "Changing your plan",
    body: "Upgrade or downgrade from Billing, Plans. A downgrade takes effect at the end of the billing period; " +
      "an upgrade is charged pro rata at once.",
    url: null,
    tags: []
  }
}

export const create = (token: string, productId: string, body: unknown) =>
  AuthFlows.call(token, `/api/v1/products/${productId}/articles`, { method: "POST", body })

/** Waits until the article's current version is embedded. */
export const embedded = (token: string, id: string, upTo: Duration.DurationInput = "30 seconds") =>
  AuthFlows.call(token, `/api/v1/articles/${id}`).pipe(
    Effect.flatMap((response) => {
      const article = response.body as ArticleBody
      return article.embeddingState === "ready" ? Effect.succeed(article) : Effect.fail("not embedded yet")
    }),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(upTo)))
  )

/** Waits until the case has been matched `runs` times; answers it as the API shows it. */
export const matched = (token: string, caseId: string, runs = 1) =>
  Effect.flatMap(
    query<{ n: number }>("select count(*)::int as n from match_results where case_id = $1", [caseId]).pipe(
      Effect.flatMap((rows) => rows[0]!.n >= runs ? Effect.void : Effect.fail("not matched yet")),
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("30 seconds")))
    ),
    () => Effect.map(AuthFlows.call(token, `/api/v1/cases/${caseId}`), (response) => response.body as Detail)
  )

/** A product with the three articles, embedded; and a channel (webhook unless named). */
export const knowledgeBase = (settings: Record<string, unknown> = {}, type: ChannelType = "webhook") =>
  Effect.gen(function*() {
    const channel = yield* channelOf(type, settings)
    const ids: Record<string, string> = {}
    for (const [key, article] of Object.entries(articles)) {
      const created = yield* create(channel.token, channel.productId, article)
      expect(created.status).toBe(201)
      ids[key] = (created.body as ArticleBody).id
    }
    for (const id of Object.values(ids)) yield* embedded(channel.token, id)
    return { ...channel, ids }
  })

export const customerMessage = (externalId: string, subject: string, body: string) => ({
  externalId,
  subject,
  body,
  customer: { email: "ada@example.com", name: "Ada" }
})

