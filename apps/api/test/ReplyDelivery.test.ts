/**
 * Replies delivered back through a webhook channel, on the real API, database, job queue and
 * worker, to a local receiver that checks the Standard Webhooks signature and shows a reply
 * once per `webhook-id`: an approved draft reaches it exactly once, signed, threaded to the
 * customer's message; a failure that may heal is retried; a reply the target took but whose
 * answer was lost is shown once; a refusal fails the reply and puts the case before a person.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import {
  agentToken,
  approveAndSettle,
  autoSend,
  drafted,
  draftedCase,
  exportQuestion,
  post,
  replySettled,
  webhookReceiver
} from "./DraftFlows.js"
import { deliver } from "./IntakeFlows.js"
import { knowledgeBase } from "./KnowledgeFlows.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const serverLayer = TestServer.layer(undefined, { withWorker: true })

layer(serverLayer, { excludeTestServices: true, timeout: 180_000 })("reply delivery", (it) => {
  it.scoped("an approved draft reaches the webhook receiver once, signed, and the case is replied", () =>
    Effect.gen(function*() {
      // The receiver checks the signature with the channel's own signing secret.
      let channelSecret = ""
      const target = yield* webhookReceiver(() => channelSecret)
      const { caseId, draft, secret } = yield* draftedCase("deliver-ok", {}, { replyUrl: target.url })
      channelSecret = secret
      const detail = (yield* approveAndSettle(caseId)).detail

      expect(target.requests).toHaveLength(1)
      expect(target.verified()).toHaveLength(1)
      const [request] = target.requests
      expect(request!.path).toBe("/replies")
      expect(request!.headers["webhook-id"]).toBe(`nestfleet-reply-${draft.id}-v1`)
      expect(JSON.parse(request!.body)).toEqual({
        caseId,
        externalId: "deliver-ok",
        threadId: null,
        draftId: draft.id,
        version: 1,
        body: draft.body,
        citations: draft.citations
      })
      const reply = detail.messages.find((message) => message.kind === "outbound")!
      expect(reply.body).toBe(draft.body)
      expect(reply.delivery).toMatchObject({ state: "sent", draftId: draft.id, version: 1, error: null })
      expect(reply.delivery!.deliveredAt).not.toBeNull()
      expect(detail.case.status).toBe("replied")
      expect(detail.drafts[0]).toMatchObject({ version: 1, status: "sent" })
      expect(detail.timeline.filter((event) => event.kind === "reply_sent").map((event) => event.data)).toEqual([
        expect.objectContaining({ draftId: draft.id, version: 1, channel: "webhook", attempt: 1 })
      ])
    }))

  it.scoped("a conversation: messages with one threadId are one case, and the reply carries the threadId back", () =>
    Effect.gen(function*() {
      const target = yield* webhookReceiver(() => "")
      const kb = yield* knowledgeBase({ matchMinSimilarity: 0.01 })
      const changed = yield* AuthFlows.call(kb.token, `/api/v1/channels/${kb.channelId}`, {
        method: "PATCH",
        body: { config: { replyUrl: target.url } }
      })
      expect(changed.status).toBe(200)
      const say = (externalId: string, body: string) =>
        deliver(kb.channelId, Signing.standardWebhooks(kb.secret, { ...exportQuestion, externalId, threadId: "chat-42", body }))
      const first = yield* say("chat-42-1", "Exporting my report fails with EXPORT_TOO_LARGE.")
      const caseId = (first.body as { caseId: string }).caseId
      yield* drafted(kb.token, caseId)
      const second = yield* say("chat-42-2", "It is a report of two million rows. What can I do?")
      expect((second.body as { caseId: string }).caseId).toBe(caseId)
      const detail = yield* drafted(kb.token, caseId, 2)
      const agent = yield* agentToken
      expect((yield* post(agent, `/api/v1/drafts/${detail.drafts[0]!.id}/approve`, { version: 2 })).status).toBe(200)
      yield* replySettled(kb.token, caseId)
      expect(target.requests).toHaveLength(1)
      expect(JSON.parse(target.requests[0]!.body)).toMatchObject({ threadId: "chat-42", externalId: "chat-42-2", version: 2 })
      // Another conversation is another case.
      const other = yield* deliver(kb.channelId, Signing.standardWebhooks(kb.secret, { ...exportQuestion, externalId: "chat-43-1", threadId: "chat-43" }))
      expect((other.body as { caseId: string }).caseId).not.toBe(caseId)
    }))

  it.scoped("a 503 is retried and the reply is sent; a reply taken but unanswered is shown once", () =>
    Effect.gen(function*() {
      const flaky = yield* webhookReceiver(() => "", (_, n) => n === 1 ? { status: 503 } : { status: 200 })
      const first = yield* draftedCase("deliver-503", {}, { replyUrl: flaky.url })
      const retried = (yield* approveAndSettle(first.caseId)).detail
      expect(flaky.requests.map((request) => request.headers["webhook-id"])).toEqual([
        `nestfleet-reply-${first.draft.id}-v1`,
        `nestfleet-reply-${first.draft.id}-v1`
      ])
      expect(retried.messages.find((message) => message.kind === "outbound")!.delivery).toMatchObject({ state: "sent", error: null })
      expect(retried.timeline.find((event) => event.kind === "reply_sent")!.data).toMatchObject({ attempt: 2 })

      // The receiver takes the reply and the answer is lost, as when the worker dies before
      // recording it: the retry carries the same webhook-id, and the receiver shows it once.
      let secret = ""
      const dropping = yield* webhookReceiver(() => secret, (_, n) => n === 1 ? "drop" : { status: 200 })
      const second = yield* draftedCase("deliver-drop", {}, { replyUrl: dropping.url })
      secret = second.secret
      const resent = (yield* approveAndSettle(second.caseId)).detail
      expect(dropping.requests).toHaveLength(2)
      expect(new Set(dropping.requests.map((request) => request.headers["webhook-id"])).size).toBe(1)
      expect(dropping.verified()).toHaveLength(2)
      expect(dropping.shown().size).toBe(1)
      expect(resent.timeline.filter((event) => event.kind === "reply_sent")).toHaveLength(1)
      expect(resent.messages.filter((message) => message.kind === "outbound")).toHaveLength(1)
    }))

  it.scoped("a refusal (401) or a channel without a reply URL fails the reply at once and a person takes the case", () =>
    Effect.gen(function*() {
      const refusing = yield* webhookReceiver(() => "", () => ({ status: 401 }))
      const refused = yield* draftedCase("deliver-401", {}, { replyUrl: refusing.url })
      const failed = (yield* approveAndSettle(refused.caseId)).detail
      expect(refusing.requests).toHaveLength(1)
      expect(failed.messages.find((message) => message.kind === "outbound")!.delivery).toMatchObject({
        state: "failed",
        error: "The reply URL answered HTTP 401"
      })
      expect(failed.case.status).toBe("needs_attention")
      expect(failed.drafts[0]).toMatchObject({ status: "approved" })
      expect(failed.timeline.find((event) => event.kind === "reply_failed")!.data).toMatchObject({
        reason: "The reply URL answered HTTP 401",
        channel: "webhook"
      })
      // The reply failed for good: the agent the case went back to writes another version.
      const agent = yield* agentToken
      const edited = yield* AuthFlows.call(agent, `/api/v1/drafts/${refused.draft.id}`, {
        method: "PATCH",
        body: { body: "Please filter the report by date [1].", version: 1 }
      })
      expect(edited.status).toBe(200)
      expect(edited.body).toMatchObject({ version: 2, status: "pending" })

      const nowhere = yield* draftedCase("deliver-no-url", {})
      const unsent = (yield* approveAndSettle(nowhere.caseId)).detail
      expect(unsent.messages.find((message) => message.kind === "outbound")!.delivery).toMatchObject({
        state: "failed",
        error: "The webhook channel has no replyUrl (an http or https URL) in its config"
      })
    }))

  it.scoped("in auto mode the draft is sent without an agent", () =>
    Effect.gen(function*() {
      const target = yield* webhookReceiver(() => "")
      const { caseId, draft, token } = yield* draftedCase("deliver-auto", autoSend, { replyUrl: target.url })
      expect(draft.status).not.toBe("pending")
      const detail = yield* replySettled(token, caseId)
      expect(target.requests).toHaveLength(1)
      expect(detail.messages.find((message) => message.kind === "outbound")).toMatchObject({
        delivery: { state: "sent" },
        author: { name: expect.stringMatching(/^Product \d+$/) }
      })
      expect(detail.case.status).toBe("replied")
    }))
})
