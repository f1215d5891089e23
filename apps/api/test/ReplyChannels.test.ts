/**
 * Replies through GitHub and Slack, on the real API, database, job queue and worker, to local
 * servers that speak GitHub's REST API and Slack's Web API and check what each documents: the
 * path, the headers (the channel's token), the body. The token is write-only; a GitHub
 * comment's echo is not taken for the customer writing; a refusal stops, a rate limit waits.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import { approveAndSettle, autoSend, replySettled } from "./DraftFlows.js"
import { type ChannelType, deliver, fixture } from "./IntakeFlows.js"
import { knowledgeBase, query } from "./KnowledgeFlows.js"
import * as LocalHttpServer from "./LocalHttpServer.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const serverLayer = TestServer.layer(undefined, { withWorker: true })

/** A product with articles and a channel of `type` whose replies go to `apiUrl` with `replySecret`. */
const replyingChannel = (
  type: ChannelType,
  config: Record<string, unknown>,
  replySecret?: string,
  settings: Record<string, unknown> = {}
) =>
  Effect.gen(function*() {
    const kb = yield* knowledgeBase({ matchMinSimilarity: 0.01, ...settings }, type)
    const changed = yield* AuthFlows.call(kb.token, `/api/v1/channels/${kb.channelId}`, {
      method: "PATCH",
      body: { config, ...(replySecret === undefined ? {} : { replySecret }) }
    })
    expect(changed.status).toBe(200)
    // Write-only: said to be set, never answered.
    expect(changed.body).toMatchObject({ replySecretSet: replySecret !== undefined })
    if (replySecret !== undefined) expect(JSON.stringify(changed.body)).not.toContain(replySecret)
    return kb
  })

/** GitHub's issues.opened fixture, the issue asking what the export article answers. */
const exportIssue = (number: number) => {
  const payload = JSON.parse(fixture("github/issues.opened.json"))
  payload.issue.number = number
  payload.issue.id = 444_000 + number
  payload.issue.title = "CSV export fails with EXPORT_TOO_LARGE"
  payload.issue.body = "Exporting my report fails with EXPORT_TOO_LARGE. What can I do?"
  return JSON.stringify(payload)
}

layer(serverLayer, { excludeTestServices: true, timeout: 180_000 })("replies through GitHub and Slack", (it) => {
  it.scoped("GitHub: an issue comment with the channel's token, as GitHub documents it; its echo is not a new message", () =>
    Effect.gen(function*() {
      const github = yield* LocalHttpServer.make((request) =>
        request.path.endsWith("/issues/2/comments") ? { status: 401, json: { message: "Bad credentials" } } : {
          status: 201,
          json: { id: 4242, html_url: "https://github.com/Codertocat/Hello-World/issues/1#issuecomment-4242" }
        }
      )
      const kb = yield* replyingChannel("github", { apiUrl: `${github.url}/api/v3/` }, "ghp_reply_token_0123456789")
      const opened = yield* deliver(kb.channelId, Signing.github(kb.secret, "issues", exportIssue(1)))
      expect(opened.status).toBe(202)
      const caseId = (opened.body as { caseId: string }).caseId
      const { detail, draft, reply } = yield* approveAndSettle(caseId)

      expect(github.requests).toHaveLength(1)
      const [request] = github.requests
      expect(request).toMatchObject({ method: "POST", path: "/api/v3/repos/Codertocat/Hello-World/issues/1/comments" })
      expect(request!.headers).toMatchObject({
        authorization: "Bearer ghp_reply_token_0123456789",
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "user-agent": "NestFleet"
      })
      // The reply's key ends the comment, unseen once rendered.
      expect(JSON.parse(request!.body)).toEqual({ body: `${draft.body}\n\n<!-- nestfleet-reply-${draft.id}-v1 -->` })
      expect(reply.delivery).toMatchObject({ state: "sent", error: null })
      expect(detail.case.status).toBe("replied")
      const [stored] = yield* query<{ externalId: string }>(
        "select external_id as \"externalId\" from messages where case_id = $1 and kind = 'outbound'",
        [caseId]
      )
      expect(stored!.externalId).toBe("github-comment:4242")

      // GitHub sends the comment back as an issue_comment webhook: seen before, no new message.
      const echo = JSON.parse(fixture("github/issue_comment.created.json"))
      echo.comment.id = 4242
      echo.comment.body = draft.body
      const echoed = yield* deliver(kb.channelId, Signing.github(kb.secret, "issue_comment", JSON.stringify(echo)))
      expect(echoed.status).toBe(200)
      expect(echoed.body).toMatchObject({ ignored: "seen before" })
      const [count] = yield* query<{ n: number }>("select count(*)::int as n from messages where case_id = $1 and kind = 'inbound'", [caseId])
      expect(count!.n).toBe(1)

      // Bad credentials will not heal: the reply fails at once.
      const refusedCase = yield* deliver(kb.channelId, Signing.github(kb.secret, "issues", exportIssue(2)))
      const refused = yield* approveAndSettle((refusedCase.body as { caseId: string }).caseId)
      expect(refused.reply.delivery).toMatchObject({ state: "failed", error: "GitHub answered HTTP 401" })
      expect(refused.detail.case.status).toBe("needs_attention")
      expect(github.requests).toHaveLength(2)
    }))

  it.scoped("GitHub: a channel without a token fails the reply, saying so", () =>
    Effect.gen(function*() {
      const github = yield* LocalHttpServer.make()
      const kb = yield* replyingChannel("github", { apiUrl: github.url })
      const opened = yield* deliver(kb.channelId, Signing.github(kb.secret, "issues", exportIssue(7)))
      const { reply } = yield* approveAndSettle((opened.body as { caseId: string }).caseId)
      expect(reply.delivery).toMatchObject({ state: "failed", error: "The github channel has no token (its replySecret)" })
      expect(github.requests).toEqual([])
    }))

  it.scoped("Slack: chat.postMessage in the customer's thread with the bot token; ratelimited waits Retry-After; a lasting error stops", () =>
    Effect.gen(function*() {
      const slack = yield* LocalHttpServer.make((request, n) => {
        const { channel } = JSON.parse(request.body) as { channel: string }
        if (channel === "CGONE") return { status: 200, json: { ok: false, error: "channel_not_found" } }
        return n === 1
          ? { status: 429, headers: { "retry-after": "1" }, json: { ok: false, error: "ratelimited" } }
          : { status: 200, json: { ok: true, channel, ts: "1741944999.000300" } }
      })
      const kb = yield* replyingChannel("slack", { apiUrl: `${slack.url}/api` }, "xoxb-bot-token-0123456789")
      const opened = yield* deliver(kb.channelId, Signing.slack(kb.secret, fixture("slack/message.channels.json")))
      expect(opened.status).toBe(202)
      const caseId = (opened.body as { caseId: string }).caseId
      const { draft, reply } = yield* approveAndSettle(caseId)

      expect(slack.requests).toHaveLength(2)
      for (const request of slack.requests) {
        expect(request).toMatchObject({ method: "POST", path: "/api/chat.postMessage" })
        expect(request.headers.authorization).toBe("Bearer xoxb-bot-token-0123456789")
        expect(request.headers["content-type"]).toBe("application/json; charset=utf-8")
        expect(JSON.parse(request.body)).toEqual({
          channel: "C061EG9SL",
          thread_ts: "1741944413.000200",
          text: draft.body,
          unfurl_links: false,
          metadata: { event_type: "nestfleet_reply", event_payload: { key: `nestfleet-reply-${draft.id}-v1` } }
        })
      }
      expect(reply.delivery).toMatchObject({ state: "sent", error: null })

      // A channel the app cannot post in: Slack's ok:false error stops at once.
      const gone = JSON.parse(fixture("slack/message.channels.json"))
      gone.event_id = "Ev0GONE"
      gone.event.channel = "CGONE"
      gone.event.ts = "1741945000.000100"
      const goneCase = yield* deliver(kb.channelId, Signing.slack(kb.secret, gone))
      const stopped = yield* approveAndSettle((goneCase.body as { caseId: string }).caseId)
      expect(stopped.reply.delivery).toMatchObject({ state: "failed", error: "Slack refused the message (channel_not_found)" })
      expect(slack.requests).toHaveLength(3)
    }))

  it.scoped("auto mode: a GitHub issue and a Slack message are each answered once, in their thread, without an agent", () =>
    Effect.gen(function*() {
      const github = yield* LocalHttpServer.make(() => ({ status: 201, json: { id: 5151 } }))
      const slack = yield* LocalHttpServer.make((request) => ({
        status: 200,
        json: { ok: true, channel: (JSON.parse(request.body) as { channel: string }).channel, ts: "1741944999.000400" }
      }))
      const onGitHub = yield* replyingChannel("github", { apiUrl: github.url }, "ghp_auto_token_0123456789", autoSend)
      const onSlack = yield* replyingChannel("slack", { apiUrl: `${slack.url}/api` }, "xoxb-auto-token-0123456789", autoSend)
      const issue = yield* deliver(onGitHub.channelId, Signing.github(onGitHub.secret, "issues", exportIssue(11)))
      const message = yield* deliver(onSlack.channelId, Signing.slack(onSlack.secret, fixture("slack/message.channels.json")))

      for (const [kb, opened] of [[onGitHub, issue], [onSlack, message]] as const) {
        const detail = yield* replySettled(kb.token, (opened.body as { caseId: string }).caseId)
        expect(detail.drafts[0]).toMatchObject({ version: 1, status: "sent", decidedBy: null })
        expect(detail.case.status).toBe("replied")
      }
      expect(github.requests.map((request) => request.path)).toEqual(["/repos/Codertocat/Hello-World/issues/11/comments"])
      expect(slack.requests).toHaveLength(1)
      expect(JSON.parse(slack.requests[0]!.body)).toMatchObject({ channel: "C061EG9SL", thread_ts: "1741944413.000200" })
    }))

  it.scoped("GitHub: a comment made but whose answer was lost is found by its key on the retry and not made again", () =>
    Effect.gen(function*() {
      const made: Array<{ id: number; body: string }> = []
      const github = yield* LocalHttpServer.make((request) => {
        if (request.method === "GET") return { status: 200, json: made }
        made.push({ id: 7000 + made.length + 1, body: (JSON.parse(request.body) as { body: string }).body })
        // GitHub made the comment; the worker never hears so.
        return made.length === 1 ? "drop" : { status: 201, json: { id: 7000 + made.length } }
      })
      const kb = yield* replyingChannel("github", { apiUrl: github.url }, "ghp_lost_answer_0123456789")
      const opened = yield* deliver(kb.channelId, Signing.github(kb.secret, "issues", exportIssue(21)))
      const caseId = (opened.body as { caseId: string }).caseId
      const { detail, reply } = yield* approveAndSettle(caseId)

      expect(github.requests.map((request) => request.method)).toEqual(["POST", "GET"])
      const listed = new URL(github.requests[1]!.path, github.url)
      expect(listed.pathname).toBe("/repos/Codertocat/Hello-World/issues/21/comments")
      expect(listed.searchParams.get("per_page")).toBe("100")
      expect(Date.parse(listed.searchParams.get("since")!)).not.toBeNaN()
      expect(made).toHaveLength(1)
      expect(reply.delivery).toMatchObject({ state: "sent", error: null })
      expect(detail.timeline.filter((event) => event.kind === "reply_sent").map((event) => event.data)).toEqual([
        expect.objectContaining({ attempt: 2 })
      ])
      const [stored] = yield* query<{ externalId: string }>(
        "select external_id as \"externalId\" from messages where case_id = $1 and kind = 'outbound'",
        [caseId]
      )
      expect(stored!.externalId).toBe("github-comment:7001")
    }))

  it.scoped("Slack: a message posted but whose answer was lost is found by its metadata on the retry and not posted again", () =>
    Effect.gen(function*() {
      const posted: Array<{ ts: string; metadata: unknown }> = []
      const slack = yield* LocalHttpServer.make((request) => {
        if (request.path.startsWith("/api/conversations.replies")) {
          return { status: 200, json: { ok: true, messages: [{ ts: "1741944413.000200" }, ...posted], has_more: false } }
        }
        const { metadata } = JSON.parse(request.body) as { metadata: unknown }
        posted.push({ ts: `1741945100.00010${posted.length}`, metadata })
        return posted.length === 1 ? "drop" : { status: 200, json: { ok: true, ts: posted.at(-1)!.ts } }
      })
      const kb = yield* replyingChannel("slack", { apiUrl: `${slack.url}/api` }, "xoxb-lost-answer-0123456789")
      const event = JSON.parse(fixture("slack/message.channels.json"))
      event.event_id = "Ev0LOST"
      const opened = yield* deliver(kb.channelId, Signing.slack(kb.secret, JSON.stringify(event)))
      const caseId = (opened.body as { caseId: string }).caseId
      const { reply } = yield* approveAndSettle(caseId)

      expect(slack.requests.map((request) => new URL(request.path, slack.url).pathname)).toEqual([
        "/api/chat.postMessage",
        "/api/conversations.replies"
      ])
      const read = new URL(slack.requests[1]!.path, slack.url).searchParams
      expect(Object.fromEntries(read)).toEqual({
        channel: "C061EG9SL",
        ts: "1741944413.000200",
        include_all_metadata: "true",
        limit: "200"
      })
      expect(slack.requests[1]!.headers.authorization).toBe("Bearer xoxb-lost-answer-0123456789")
      expect(posted).toHaveLength(1)
      expect(reply.delivery).toMatchObject({ state: "sent", error: null })
      const [stored] = yield* query<{ externalId: string }>(
        "select external_id as \"externalId\" from messages where case_id = $1 and kind = 'outbound'",
        [caseId]
      )
      expect(stored!.externalId).toBe("slack:C061EG9SL:1741945100.000100")
    }))
})
