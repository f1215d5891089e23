/**
 * Reply drafts end to end, on the real API, database, job queue and worker: a case routed to
 * `reply` gets a cited draft from its matched articles; agents approve exactly the version
 * they saw (409 otherwise, nothing changed), reject it saying why, or edit it into a new
 * version; the product's policy sends confident drafts at once; a draft with nothing to draw
 * on is refused and the case goes to a person.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import { agentToken, drafted, draftedCase, exportQuestion, post, type Version, type WithDrafts } from "./DraftFlows.js"
import { channelOf, deliver } from "./IntakeFlows.js"
import { knowledgeBase, matched, query } from "./KnowledgeFlows.js"
import * as LocalHttpServer from "./LocalHttpServer.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const serverLayer = TestServer.layer(undefined, { withWorker: true })

layer(serverLayer, { excludeTestServices: true, timeout: 180_000 })("reply drafts", (it) => {
  it.effect("a case routed to reply gets a cited draft waiting for approval; the agent approves exactly that version", () =>
    Effect.gen(function*() {
      const { caseId, detail, draft, ids, productId, token } = yield* draftedCase("draft-approve", {})
      expect(detail.routing).toMatchObject({ decision: "reply" })
      expect(draft).toMatchObject({ version: 1, status: "pending", caseId, author: { kind: "model", userId: null } })
      expect(draft.author.name).toBe("builtin/builtin-extractive")
      // Grounded: the export article is cited, its passage quoted, its sources listed, in the product's templates.
      expect(draft.citations.length).toBeGreaterThan(0)
      expect(draft.citations[0]).toMatchObject({ n: 1, articleId: ids.export, url: "https://docs.example.com/reports/export" })
      expect(draft.body).toMatch(/^Hi Ada,\n\n/)
      expect(draft.body).toContain("[1]")
      expect(draft.body).toContain("EXPORT_TOO_LARGE")
      expect(draft.body).toContain("Sources:\n[1] Exporting reports to CSV — https://docs.example.com/reports/export")
      expect(draft.body).toMatch(/Best regards,\nThe support team$/)
      expect(draft.reasoning.map((step) => step.step)).toEqual(["Sources", "Guard: passed", "Policy: wait for approval"])
      expect(draft.reasoning[2]!.detail).toBe("the product's replies wait for approval")
      expect(detail.case.status).toBe("awaiting_approval")
      // One model call: the case was embedded by matching, and its vector is used again.
      expect(detail.aiCalls.filter((call) => call.step === "auto_reply").map((call) => call.task)).toEqual(["reply"])
      expect(detail.timeline.find((event) => event.kind === "draft_written")?.data).toMatchObject({
        draftId: draft.id,
        version: 1,
        status: "pending",
        reason: "matched"
      })

      const queue = yield* AuthFlows.call(token, `/api/v1/approvals?productId=${productId}`)
      expect(queue.status).toBe(200)
      expect((queue.body as { items: Array<unknown> }).items).toEqual([
        expect.objectContaining({ draftId: draft.id, version: 1, caseId, subject: "CSV export fails", productId })
      ])

      const agent = yield* agentToken
      // A version the agent did not see: nothing changes.
      const stale = yield* post(agent, `/api/v1/drafts/${draft.id}/approve`, { version: 2 })
      expect(stale.status).toBe(409)
      expect(stale.body).toMatchObject({ _tag: "DraftConflict" })
      const approved = yield* post(agent, `/api/v1/drafts/${draft.id}/approve`, { version: 1 })
      expect(approved.status).toBe(200)
      expect(approved.body).toMatchObject({ id: draft.id, version: 1, status: "approved" })
      expect((approved.body as Version).decidedBy).not.toBeNull()
      // Decided once: a second approval is a conflict, and the queue no longer holds it.
      expect((yield* post(agent, `/api/v1/drafts/${draft.id}/approve`, { version: 1 })).status).toBe(409)
      const after = (yield* AuthFlows.call(token, `/api/v1/approvals?productId=${productId}`)).body as { items: Array<unknown> }
      expect(after.items).toEqual([])
      const read = (yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`)).body as WithDrafts
      expect(read.timeline.filter((event) => event.kind === "draft_approved").map((event) => event.data)).toEqual([
        { draftId: draft.id, version: 1, by: "agent" }
      ])
    }))

  it.effect("an approval after the customer wrote again is a conflict, and nothing is approved", () =>
    Effect.gen(function*() {
      const { caseId, draft, token } = yield* draftedCase("draft-newer-message", {})
      // The customer's new message, arriving before the pipeline has drafted again.
      yield* query("insert into messages (case_id, kind, body) values ($1, 'inbound', 'Also: it fails for small reports too')", [caseId])
      const answer = yield* post(token, `/api/v1/drafts/${draft.id}/approve`, { version: 1 })
      expect(answer.status).toBe(409)
      expect((answer.body as { message: string }).message).toContain("The customer wrote again")
      const [row] = yield* query<{ status: string }>("select status from draft_versions where draft_id = $1", [draft.id])
      expect(row!.status).toBe("pending")
    }))

  it.scoped("an agent rejects a draft saying why, or edits it into a new version that waits again", () =>
    Effect.gen(function*() {
      const agent = yield* agentToken
      const rejectedCase = yield* draftedCase("draft-reject", {})
      expect((yield* post(agent, `/api/v1/drafts/${rejectedCase.draft.id}/reject`, { reason: "  " })).status).toBe(400)
      const rejected = yield* post(agent, `/api/v1/drafts/${rejectedCase.draft.id}/reject`, { reason: "Wrong article", version: 1 })
      expect(rejected.status).toBe(200)
      expect(rejected.body).toMatchObject({ status: "rejected", decision: "Wrong article" })
      expect((yield* post(agent, `/api/v1/drafts/${rejectedCase.draft.id}/reject`, { reason: "again" })).status).toBe(409)
      const afterReject = (yield* AuthFlows.call(agent, `/api/v1/cases/${rejectedCase.caseId}`)).body as WithDrafts
      expect(afterReject.case.status).toBe("needs_attention")
      expect(afterReject.timeline.find((event) => event.kind === "draft_rejected")?.data).toMatchObject({ reason: "Wrong article" })

      // The customer's side answers 503: an approved reply stays on its way (retried) meanwhile.
      const busy = yield* LocalHttpServer.make(() => ({ status: 503 }))
      const { caseId, draft } = yield* draftedCase("draft-edit", {}, { replyUrl: `${busy.url}/replies` })
      const path = `/api/v1/drafts/${draft.id}`
      expect((yield* AuthFlows.call(agent, path, { method: "PATCH", body: { body: "" } })).status).toBe(400)
      expect((yield* AuthFlows.call(agent, path, { method: "PATCH", body: { body: "x", version: 3 } })).status).toBe(409)
      const body = "Hi Ada,\n\nFilter the report by date and export it in parts [1].\n\nAda's support team"
      const edited = yield* AuthFlows.call(agent, path, { method: "PATCH", body: { body, version: 1 } })
      expect(edited.status).toBe(200)
      expect(edited.body).toMatchObject({
        version: 2,
        status: "pending",
        body,
        author: { kind: "user" },
        citations: [draft.citations[0]!]
      })
      const versions = ((yield* AuthFlows.call(agent, `/api/v1/cases/${caseId}`)).body as WithDrafts).drafts
      expect(versions.map((version) => [version.version, version.status])).toEqual([[2, "pending"], [1, "superseded"]])
      // The agent approves what they read: the edit, not the version it replaced.
      expect((yield* post(agent, `${path}/approve`, { version: 1 })).status).toBe(409)
      expect((yield* post(agent, `${path}/approve`, { version: 2 })).body).toMatchObject({ version: 2, status: "approved" })
      expect((yield* AuthFlows.call(agent, path, { method: "PATCH", body: { body: "later" } })).status).toBe(409)
    }))

  it.effect("in auto mode a confident draft of an allowed type is approved by the policy at once", () =>
    Effect.gen(function*() {
      const { detail, draft } = yield* draftedCase("draft-auto", {
        replyMode: "auto",
        autoSendMinConfidence: 0,
        autoSendTypes: ["bug", "question", "feature_request", "billing", "account", "other"]
      })
      expect(draft.status).toBe("approved")
      expect(draft.decision).toMatch(/^Approved by the product's policy: auto mode: a \w+, triage/)
      expect(draft.reasoning[2]!.step).toBe("Policy: send")
      expect(detail.timeline.find((event) => event.kind === "draft_approved")?.data).toMatchObject({ by: "policy" })
    }))

  it.effect("a draft asked for by hand draws on the best matches; with nothing to draw on it is refused and a person takes the case", () =>
    Effect.gen(function*() {
      const agent = yield* agentToken
      // Routed to a person (threshold 1), then a draft is asked for anyway.
      const kb = yield* knowledgeBase({ matchMinSimilarity: 1 })
      const sent = yield* deliver(kb.channelId, Signing.standardWebhooks(kb.secret, { ...exportQuestion, externalId: "draft-hand" }))
      const caseId = (sent.body as { caseId: string }).caseId
      expect((yield* matched(kb.token, caseId)).routing).not.toMatchObject({ decision: "reply" })
      const requested = yield* post(agent, `/api/v1/cases/${caseId}/draft`)
      expect(requested.status).toBe(202)
      expect(requested.body).toMatchObject({ caseId })
      const detail = yield* drafted(agent, caseId)
      expect(detail.drafts[0]).toMatchObject({ status: "pending", citations: [expect.objectContaining({ articleId: kb.ids.export })] })
      expect(detail.timeline.find((event) => event.kind === "draft_requested")).toBeDefined()

      const empty = yield* channelOf("webhook", { matchMinSimilarity: 0.01 })
      const lone = yield* deliver(empty.channelId, Signing.standardWebhooks(empty.secret, { ...exportQuestion, externalId: "draft-none" }))
      const loneId = (lone.body as { caseId: string }).caseId
      yield* matched(empty.token, loneId)
      expect((yield* post(agent, `/api/v1/cases/${loneId}/draft`)).status).toBe(202)
      const refused = yield* drafted(agent, loneId)
      expect(refused.drafts[0]).toMatchObject({ status: "rejected", decision: "Refused: No matched article to draw on", citations: [] })
      expect(refused.case.status).toBe("needs_attention")
      expect(refused.timeline.find((event) => event.kind === "draft_refused")?.data).toMatchObject({
        reason: "No matched article to draw on"
      })
    }))

  it.effect("bad input: unknown drafts and cases 404, malformed decisions 400, an incident is never auto-sent", () =>
    Effect.gen(function*() {
      const agent = yield* agentToken
      const unknown = crypto.randomUUID()
      expect((yield* post(agent, `/api/v1/drafts/${unknown}/approve`, { version: 1 })).status).toBe(404)
      expect((yield* post(agent, `/api/v1/drafts/${unknown}/reject`, { reason: "no" })).status).toBe(404)
      expect((yield* AuthFlows.call(agent, `/api/v1/drafts/${unknown}`, { method: "PATCH", body: { body: "x" } })).status).toBe(404)
      expect((yield* post(agent, `/api/v1/cases/${unknown}/draft`)).status).toBe(404)
      for (const version of [0, -1, 1.5, "1", null]) {
        expect((yield* post(agent, `/api/v1/drafts/${unknown}/approve`, { version })).status).toBe(400)
      }
      expect((yield* post(agent, `/api/v1/drafts/${unknown}/approve`, {})).status).toBe(400)
      expect((yield* AuthFlows.call(agent, "/api/v1/approvals?cursor=nonsense")).status).toBe(400)
      // A well-formed cursor of a time PostgreSQL cannot hold (it has no year 0).
      const yearZero = Buffer.from(`0000-01-01T00:00:00.000000Z|${unknown}`).toString("base64url")
      expect((yield* AuthFlows.call(agent, `/api/v1/approvals?cursor=${yearZero}`)).status).toBe(400)
      expect((yield* AuthFlows.call(agent, `/api/v1/cases?cursor=${yearZero}`)).status).toBe(400)
      expect((yield* AuthFlows.call(agent, "/api/v1/approvals?limit=0")).status).toBe(400)

      const admin = (yield* AuthFlows.signIn(TestServer.admin)).accessToken
      const product = yield* AuthFlows.call(admin, "/api/v1/products", {
        method: "POST",
        body: { name: "Incidents", slug: `incidents-${Date.now()}`, settings: { autoSendTypes: ["question", "incident"] } }
      })
      expect(product.status).toBe(400)
      expect(JSON.stringify(product.body)).toContain("An incident is never answered without a person")
    }))
})
