/**
 * The knowledge base and known-issue matching end to end, on the real API, database, job
 * queue and worker: articles written and embedded by their jobs, paged and searched; cases
 * matched against articles and each other, routed, and marked as likely duplicates across
 * channels; a follow-up message matched again.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import { channelOf, deliver } from "./IntakeFlows.js"
import {
  type ArticleBody,
  articles,
  create,
  customerMessage,
  type Detail,
  embedded,
  knowledgeBase,
  matched,
  query
} from "./KnowledgeFlows.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const serverLayer = TestServer.layer(undefined, { withWorker: true })

layer(serverLayer, { excludeTestServices: true, timeout: 180_000 })("knowledge base and matching", (it) => {
  it.effect("articles: agents write, viewers read; created published and embedded; bad input refused", () =>
    Effect.gen(function*() {
      const { productId, token } = yield* channelOf("webhook")
      yield* AuthFlows.createUser(token, { email: "kb-viewer@nestfleet.test", password: "viewer-password-1", roles: ["viewer"] })
      yield* AuthFlows.createUser(token, { email: "kb-agent@nestfleet.test", password: "agent-password-1", roles: ["agent"] })
      const viewer = (yield* AuthFlows.signIn({ email: "kb-viewer@nestfleet.test", password: "viewer-password-1" })).accessToken
      const agent = (yield* AuthFlows.signIn({ email: "kb-agent@nestfleet.test", password: "agent-password-1" })).accessToken

      expect((yield* create(viewer, productId, articles.export)).status).toBe(403)
      const created = yield* create(agent, productId, articles.export)
      expect(created.status).toBe(201)
      const article = created.body as ArticleBody
      expect(article).toMatchObject({ version: 1, status: "published", tags: ["reports"], url: articles.export.url })
      expect(["pending", "ready"]).toContain(article.embeddingState)
      expect((yield* AuthFlows.call(viewer, `/api/v1/articles/${article.id}`)).status).toBe(200)
      expect(yield* embedded(viewer, article.id)).toMatchObject({ embeddingState: "ready", version: 1 })
      const chunks = yield* query<{ heading: string; n: number }>(
        "select c.heading, count(e.chunk_id)::int as n from article_chunks c left join chunk_embeddings e on e.chunk_id = c.id " +
          "where c.article_id = $1 group by c.heading, c.ordinal order by c.ordinal",
        [article.id]
      )
      expect(chunks.map((chunk) => chunk.heading)).toEqual([
        "Exporting reports to CSV",
        "Exporting reports to CSV › When the export fails"
      ])
      expect(chunks.every((chunk) => chunk.n === 1)).toBe(true)

      const refused = [
        { title: "", body: "x" },
        { title: "T", body: "   " },
        { title: "T", body: "x", url: "javascript:alert(1)" },
        { title: "T", body: "x", status: "archived" },
        { title: "T", body: "x", tags: ["a".repeat(65)] },
        { title: "T", body: "é".repeat(600_000) }
      ]
      for (const body of refused) expect((yield* create(agent, productId, body)).status).toBe(400)
      const exactlyOneMiB = yield* create(agent, productId, { title: "Big", body: "a".repeat(1024 * 1024), status: "draft" })
      expect(exactlyOneMiB.status).toBe(201)
      // Its ~650 passages keep the sentence encoder busy for a minute (several on a loaded
      // machine), and embed_article jobs run one at a time: wait for it here, or the next
      // test's article waits behind it.
      yield* embedded(agent, (exactlyOneMiB.body as ArticleBody).id, "270 seconds")
      expect((yield* create(agent, "00000000-0000-4000-8000-000000000000", articles.sso)).status).toBe(404)
      expect((yield* AuthFlows.call(viewer, "/api/v1/articles/00000000-0000-4000-8000-000000000000")).status).toBe(404)
    }), 300_000)

  it.effect("articles: a new title or body is a new version, embedded again; other changes are not; delete removes it", () =>
    Effect.gen(function*() {
      const { productId, token } = yield* channelOf("webhook")
      const id = ((yield* create(token, productId, articles.billing)).body as ArticleBody).id
      yield* embedded(token, id)
      const tagged = yield* AuthFlows.call(token, `/api/v1/articles/${id}`, { method: "PATCH", body: { tags: ["plans"] } })
      expect(tagged.body).toMatchObject({ version: 1, tags: ["plans"], embeddingState: "ready" })
      // Two edits at once: the passages end as the last version's, whichever job finishes last.
      yield* AuthFlows.call(token, `/api/v1/articles/${id}`, { method: "PATCH", body: { body: "Plans are changed by admins." } })
      const last = yield* AuthFlows.call(token, `/api/v1/articles/${id}`, {
        method: "PATCH",
        body: { body: "Plans are changed under Billing, Plans, by an owner." }
      })
      expect(last.body).toMatchObject({ version: 3, embeddingState: "pending" })
      expect(yield* embedded(token, id)).toMatchObject({ version: 3 })
      const texts = yield* query<{ text: string }>("select text from article_chunks where article_id = $1", [id])
      expect(texts.map((row) => row.text)).toEqual(["Plans are changed under Billing, Plans, by an owner."])
      const versions = yield* query<{ embedded_version: number }>("select embedded_version from articles where id = $1", [id])
      expect(versions[0]!.embedded_version).toBe(3)

      expect((yield* AuthFlows.call(token, `/api/v1/articles/${id}`, { method: "DELETE" })).status).toBe(204)
      expect((yield* AuthFlows.call(token, `/api/v1/articles/${id}`)).status).toBe(404)
      expect((yield* AuthFlows.call(token, `/api/v1/articles/${id}`, { method: "DELETE" })).status).toBe(404)
      expect((yield* query("select 1 from article_chunks where article_id = $1", [id])).length).toBe(0)
    }))

  it.effect("articles: listed last changed first, paged, filtered by status and words", () =>
    Effect.gen(function*() {
      const { productId, token } = yield* channelOf("webhook")
      for (let i = 1; i <= 5; i++) {
        yield* create(token, productId, { title: `Guide ${i}`, body: `Step ${i} of the setup guide.`, status: i === 5 ? "draft" : "published" })
      }
      const page = (params: string) =>
        Effect.map(AuthFlows.call(token, `/api/v1/products/${productId}/articles?${params}`), (response) =>
          response.body as { items: ReadonlyArray<{ title: string }>; nextCursor: string | null })
      const first = yield* page("limit=2")
      expect(first.items.map((item) => item.title)).toEqual(["Guide 5", "Guide 4"])
      const second = yield* page(`limit=2&cursor=${first.nextCursor}`)
      expect(second.items.map((item) => item.title)).toEqual(["Guide 3", "Guide 2"])
      const third = yield* page(`limit=2&cursor=${second.nextCursor}`)
      expect(third).toMatchObject({ items: [{ title: "Guide 1" }], nextCursor: null })
      expect((yield* page("status=draft")).items.map((item) => item.title)).toEqual(["Guide 5"])
      expect((yield* page("q=step%203")).items[0]!.title).toBe("Guide 3")
      for (const params of ["cursor=bogus", "limit=0", "limit=101", "status=gone"]) {
        expect((yield* AuthFlows.call(token, `/api/v1/products/${productId}/articles?${params}`)).status).toBe(400)
      }
    }))

  it.effect("search: best article first, one item per article, published ones of the product only", () =>
    Effect.gen(function*() {
      const { ids, productId, token } = yield* knowledgeBase()
      const other = yield* channelOf("webhook")
      yield* create(other.token, other.productId, { ...articles.export, title: "Another product's export page" })
      yield* create(token, productId, { title: "Export drafts", body: "Exporting a report that is too large.", status: "draft" })
      const search = (q: string, limit?: number) =>
        Effect.map(
          AuthFlows.call(token, `/api/v1/products/${productId}/kb/search?q=${encodeURIComponent(q)}${limit ? `&limit=${limit}` : ""}`),
          (response) => response.body as { items: ReadonlyArray<{ articleId: string; score: number; heading: string; snippet: string }> }
        )
      const exportFails = yield* search("my CSV export fails with EXPORT_TOO_LARGE, what can I do?")
      expect(exportFails.items[0]).toMatchObject({ articleId: ids.export, heading: "Exporting reports to CSV › When the export fails" })
      expect(new Set(exportFails.items.map((item) => item.articleId)).size).toBe(exportFails.items.length)
      expect(exportFails.items.every((item) => Object.values(ids).includes(item.articleId))).toBe(true)
      expect(exportFails.items[0]!.score).toBeGreaterThan(0)
      expect(exportFails.items[0]!.score).toBeLessThanOrEqual(1)
      expect((yield* search("SAML login loop with our identity provider")).items[0]!.articleId).toBe(ids.sso)
      expect((yield* search("how do I downgrade my plan", 1)).items.map((item) => item.articleId)).toEqual([ids.billing])
      for (const params of ["q=", "q=%20%20", "q=x&limit=0", "q=x&limit=51"]) {
        expect((yield* AuthFlows.call(token, `/api/v1/products/${productId}/kb/search?${params}`)).status).toBe(400)
      }
    }))

  it.effect("matching: a case is matched to the article that answers it and routed by the product's threshold", () =>
    Effect.gen(function*() {
      // A low threshold: the export article answers; the case is routed to a reply.
      const low = yield* knowledgeBase({ matchMinSimilarity: 0.01 })
      const sent = yield* deliver(low.channelId, Signing.standardWebhooks(low.secret, customerMessage(
        "kb-1",
        "CSV export fails",
        "Exporting my report fails with EXPORT_TOO_LARGE. What can I do?"
      )))
      const caseId = (sent.body as { caseId: string }).caseId
      const detail = yield* matched(low.token, caseId)
      expect(detail.matches[0]).toMatchObject({ kind: "article", articleId: low.ids.export, rank: 1 })
      // What its score was made from: meaning (the cosine) and the share of the case's words it holds.
      const { meaning, words } = detail.matches[0]!.evidence
      expect(meaning).toBeGreaterThan(0)
      expect(words).toBeGreaterThan(0)
      expect(words).toBeLessThanOrEqual(1)
      expect(detail.matchReasoning[1]!.detail).toContain(`words ${words!.toFixed(2)}`)
      expect(detail.matches.length).toBeLessThanOrEqual(10)
      expect(detail.matches.map((match) => match.rank)).toEqual(detail.matches.map((_, i) => i + 1))
      expect(detail.routing).toMatchObject({ decision: "reply" })
      expect(detail.matchReasoning.map((step) => step.step)).toEqual(["Searched", "Top candidates", "Decision: reply"])
      expect(detail.timeline.map((event) => event.kind)).toEqual(expect.arrayContaining(["triaged", "matched", "routed"]))

      // A threshold nothing reaches: a bug goes to change-prep, a question to a person.
      const high = yield* knowledgeBase({ matchMinSimilarity: 1 })
      const bug = yield* deliver(high.channelId, Signing.standardWebhooks(high.secret, customerMessage(
        "kb-2",
        "Export crashes",
        "The app crashes with an error when I click export. Steps to reproduce: open reports, click export."
      )))
      const bugDetail = yield* matched(high.token, (bug.body as { caseId: string }).caseId)
      expect(bugDetail.routing).toMatchObject({ decision: "change_prep" })
      const question = yield* deliver(high.channelId, Signing.standardWebhooks(high.secret, customerMessage(
        "kb-3",
        "Question about plans",
        "How do I downgrade my plan? Is there a way to see what I would pay?"
      )))
      const questionDetail = yield* matched(high.token, (question.body as { caseId: string }).caseId)
      expect(questionDetail.routing).toMatchObject({ decision: "human" })
      expect(questionDetail.case.status).toBe("needs_attention")
    }))

  it.effect("duplicates across channels: suggested, confirmed or dismissed by an agent, never merged", () =>
    Effect.gen(function*() {
      const kb = yield* knowledgeBase()
      const email = yield* AuthFlows.call(kb.token, `/api/v1/products/${kb.productId}/channels`, {
        method: "POST",
        body: { type: "email", name: "support mail" }
      })
      const emailChannel = email.body as { channel: { id: string }; secret: string }
      const text = "Since this morning every export of the sales report fails with EXPORT_TOO_LARGE."
      const first = yield* deliver(kb.channelId, Signing.standardWebhooks(kb.secret, customerMessage("dup-1", "Sales export fails", text)))
      const firstId = (first.body as { caseId: string }).caseId
      const firstDetail = yield* matched(kb.token, firstId)
      const second = yield* deliver(emailChannel.channel.id, Signing.standardWebhooks(emailChannel.secret, {
        messageId: "<dup-2@mail.example>",
        from: { email: "bob@example.com" },
        to: "support@acme.test",
        subject: "Sales export fails",
        text
      }))
      const secondId = (second.body as { caseId: string }).caseId
      const detail = yield* matched(kb.token, secondId)
      expect(detail.matches.find((match) => match.kind === "case")).toMatchObject({ caseId: firstId, caseNumber: firstDetail.case.number })
      expect(detail.duplicate).toMatchObject({ caseId: firstId, state: "suggested" })
      expect(detail.timeline.map((event) => event.kind)).toContain("duplicate_suggested")

      const confirmed = yield* AuthFlows.call(kb.token, `/api/v1/cases/${secondId}/duplicate-of`, {
        method: "POST",
        body: { caseId: firstId }
      })
      expect(confirmed.status).toBe(200)
      expect((confirmed.body as Detail).duplicate).toMatchObject({ caseId: firstId, state: "confirmed" })
      expect((yield* AuthFlows.call(kb.token, `/api/v1/cases/${firstId}`)).status).toBe(200)
      const self = yield* AuthFlows.call(kb.token, `/api/v1/cases/${secondId}/duplicate-of`, { method: "POST", body: { caseId: secondId } })
      expect(self.status).toBe(400)
      const dismissed = yield* AuthFlows.call(kb.token, `/api/v1/cases/${secondId}/duplicate-of`, { method: "DELETE" })
      expect((dismissed.body as Detail).duplicate).toMatchObject({ state: "dismissed" })
      expect((dismissed.body as Detail).timeline.map((event) => event.kind))
        .toEqual(expect.arrayContaining(["duplicate_confirmed", "duplicate_dismissed"]))
    }))

  it.effect("a follow-up message re-runs triage and matching for its case", () =>
    Effect.gen(function*() {
      const kb = yield* knowledgeBase()
      const email = yield* AuthFlows.call(kb.token, `/api/v1/products/${kb.productId}/channels`, {
        method: "POST",
        body: { type: "email", name: "support mail" }
      })
      const { channel, secret } = email.body as { channel: { id: string }; secret: string }
      const mail = (messageId: string, extra: Record<string, unknown>) =>
        Signing.standardWebhooks(secret, { messageId: `<${messageId}>`, from: { email: "eve@example.com" }, to: "support@acme.test", ...extra })
      const opened = yield* deliver(channel.id, mail("f1@mail.example", { subject: "Login", text: "I cannot sign in." }))
      const caseId = (opened.body as { caseId: string }).caseId
      yield* matched(kb.token, caseId)
      yield* deliver(channel.id, mail("f2@mail.example", {
        subject: "Re: Login",
        inReplyTo: "<f1@mail.example>",
        text: "We use SAML single sign-on and the login loops back to the identity provider."
      }))
      const again = yield* matched(kb.token, caseId, 2)
      const triages = yield* query<{ n: number }>("select count(*)::int as n from triage_results where case_id = $1", [caseId])
      expect(triages[0]!.n).toBe(2)
      expect(again.matches[0]).toMatchObject({ kind: "article", articleId: kb.ids.sso })
    }))
})
