/** Drafted cases and agents, shared by the drafts and delivery tests. */
import { expect } from "@effect/vitest"
import { type Duration, Effect, Schedule } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import { deliver } from "./IntakeFlows.js"
import { customerMessage, type Detail, knowledgeBase, query } from "./KnowledgeFlows.js"
import * as LocalHttpServer from "./LocalHttpServer.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

export interface Version {
  readonly id: string
  readonly caseId: string
  readonly version: number
  readonly status: string
  readonly body: string
  readonly citations: ReadonlyArray<{ n: number; articleId: string; chunkId: string; title: string; url: string | null }>
  readonly author: { kind: string; name: string; userId: string | null }
  readonly reasoning: ReadonlyArray<{ step: string; detail: string }>
  readonly decision: string | null
  readonly decidedBy: string | null
  readonly decidedAt: string | null
}

export interface WithDrafts extends Detail {
  readonly drafts: ReadonlyArray<Version>
  readonly aiCalls: ReadonlyArray<{ step: string | null; task: string }>
}

/** Waits until the case's draft has `versions` versions; answers the case as the API shows it. */
export const drafted = (token: string, caseId: string, versions = 1) =>
  Effect.flatMap(
    query<{ n: number }>(
      "select count(*)::int as n from draft_versions v join drafts d on d.id = v.draft_id where d.case_id = $1",
      [caseId]
    ).pipe(
      Effect.flatMap((rows) => rows[0]!.n >= versions ? Effect.void : Effect.fail("not drafted yet")),
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("30 seconds")))
    ),
    () => Effect.map(AuthFlows.call(token, `/api/v1/cases/${caseId}`), (response) => response.body as WithDrafts)
  )

/** A product policy that sends every draft at once: auto mode, any confidence, every type auto-send allows. */
export const autoSend = {
  replyMode: "auto",
  autoSendMinConfidence: 0,
  autoSendTypes: ["bug", "question", "feature_request", "billing", "account", "other"]
} as const

export const exportQuestion = customerMessage(
  "draft-1",
  "CSV export fails",
  "Exporting my report fails with EXPORT_TOO_LARGE. What can I do?"
)

/** A case asking what the export article answers, on a product with `settings`, drafted. */
export const draftedCase = (
  externalId: string,
  settings: Record<string, unknown>,
  /** The channel's config (a webhook channel's replyUrl), set before the customer writes. */
  channelConfig?: Record<string, unknown>
) =>
  Effect.gen(function*() {
    const kb = yield* knowledgeBase({ matchMinSimilarity: 0.01, ...settings })
    if (channelConfig !== undefined) {
      const changed = yield* AuthFlows.call(kb.token, `/api/v1/channels/${kb.channelId}`, {
        method: "PATCH",
        body: { config: channelConfig }
      })
      expect(changed.status).toBe(200)
    }
    const sent = yield* deliver(kb.channelId, Signing.standardWebhooks(kb.secret, { ...exportQuestion, externalId }))
    expect(sent.status).toBe(202)
    const caseId = (sent.body as { caseId: string }).caseId
    const detail = yield* drafted(kb.token, caseId)
    return { ...kb, caseId, detail, draft: detail.drafts[0]! }
  })

export const agentToken = Effect.gen(function*() {
  const admin = (yield* AuthFlows.signIn(TestServer.admin)).accessToken
  const email = `drafts-agent-${crypto.randomUUID()}@nestfleet.test`
  yield* AuthFlows.createUser(admin, { email, password: "agent-password-1", roles: ["agent"] })
  return (yield* AuthFlows.signIn({ email, password: "agent-password-1" })).accessToken
})

export const post = (token: string, path: string, body?: unknown) =>
  AuthFlows.call(token, path, body === undefined ? { method: "POST" } : { method: "POST", body })


/** A case as the API shows it once a reply went out: its messages with their delivery. */
export interface Delivered extends WithDrafts {
  readonly messages: ReadonlyArray<{
    kind: string
    body: string
    author: { name?: string; userId?: string }
    delivery: { state: string; draftId: string; version: number; error: string | null; deliveredAt: string | null } | null
  }>
}

/** Waits (at most `within`) until the case's replies are no longer `sending`; answers the case. */
export const replySettled = (token: string, caseId: string, within: Duration.DurationInput = "60 seconds") =>
  query<{ state: string }>("select delivery_state as state from messages where case_id = $1 and kind = 'outbound'", [caseId]).pipe(
    Effect.flatMap((rows) => rows.length > 0 && rows.every((row) => row.state !== "sending") ? Effect.void : Effect.fail("sending")),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(within))),
    Effect.zipRight(Effect.map(AuthFlows.call(token, `/api/v1/cases/${caseId}`), (response) => response.body as Delivered))
  )

/** An agent approves the case's first draft version; answers it, the case once its reply settled, and the reply. */
export const approveAndSettle = (caseId: string) =>
  Effect.gen(function*() {
    const agent = yield* agentToken
    const draft = (yield* drafted(agent, caseId)).drafts[0]!
    expect((yield* post(agent, `/api/v1/drafts/${draft.id}/approve`, { version: 1 })).status).toBe(200)
    const detail = yield* replySettled(agent, caseId)
    return { draft, detail, reply: detail.messages.find((message) => message.kind === "outbound")! }
  })

/**
 * A customer's webhook receiver: checks the signature with the channel's secret (read when a
 * request arrives: the channel exists only after the receiver's URL went into its config) and
 * shows a reply once per `webhook-id`, as a careful receiver does.
 */
export const webhookReceiver = (secret: () => string, script?: LocalHttpServer.Script) =>
  Effect.map(LocalHttpServer.make(script), (server) => ({
    url: `${server.url}/replies`,
    requests: server.requests,
    verified: () => server.requests.filter((request) => Signing.verifiesStandardWebhooks(secret(), request.headers, request.body)),
    /** Replies shown: one per webhook-id of the verified requests (a dropped answer's request was taken too). */
    shown: () =>
      new Set(
        server.requests
          .filter((request) => Signing.verifiesStandardWebhooks(secret(), request.headers, request.body))
          .map((request) => request.headers["webhook-id"])
      )
  }))
