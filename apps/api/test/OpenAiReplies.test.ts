/**
 * Replies and change-prep with `LLM_PROVIDER=openai`, end to end on the real API, database,
 * job queue and worker, against a local server speaking the OpenAI wire format: the draft is
 * asked of the standard model with the retrieved passages as numbered sources, and the guard
 * refuses an answer citing a source that was not retrieved; change-prep is asked of the complex
 * model, and only the product's own components are kept.
 */
import { expect, layer } from "@effect/vitest"
import * as OpenAiWireServer from "@nestfleet/ai/testing/OpenAiWireServer"
import { Effect, Schedule } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import { drafted } from "./DraftFlows.js"
import { deliver } from "./IntakeFlows.js"
import { customerMessage, knowledgeBase, query } from "./KnowledgeFlows.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const serverLayer = TestServer.layer(undefined, { withWorker: true })

const models = { fast: "small-model", standard: "medium-model", complex: "large-model" }

interface ChatRequest {
  readonly model: string
  readonly messages: ReadonlyArray<{ role: string; content: string }>
  readonly response_format?: { type: string; json_schema?: { name: string } }
}

const chatOf = (request: OpenAiWireServer.RecordedRequest) => request.body as ChatRequest
const asks = (request: OpenAiWireServer.RecordedRequest, task: string) => chatOf(request).response_format?.json_schema?.name === task

const triage = (type: string) =>
  JSON.stringify({
    type,
    severity: "medium",
    confidence: 0.9,
    summary: "Export fails",
    reasoning: [{ step: "Type", detail: "An export failing", evidence: ["fails"] }]
  })

/** Answers each task by what it asks: triage, then the reply or the change-prep the case's subject calls for. */
const modelServer = OpenAiWireServer.make({
  chat: Array.from({ length: 20 }, () => (request: OpenAiWireServer.RecordedRequest) => {
    const user = chatOf(request).messages.map((message) => message.content).join("\n")
    const answer = (value: unknown) => OpenAiWireServer.chat(JSON.stringify(value), { model: chatOf(request).model })
    if (asks(request, "triage")) return answer(JSON.parse(triage(user.includes("crashes") ? "bug" : "question")))
    if (asks(request, "reply")) {
      return answer(
        user.includes("invented")
          ? { body: "Restart the server [9].", cited: [9] }
          : { body: "Filter the report by date and export it in parts [1].", cited: [1] }
      )
    }
    return answer({
      title: "Fix the CSV export crash",
      summary: "Exporting crashes with a TypeError.",
      reproduction: ["Open Reports", "Click Export"],
      components: [{ name: "Exports", why: "src/export/csv.ts in the trace" }, { name: "Warp drive", why: "made up" }],
      surfaces: ["exports"],
      risk: { level: "medium", reasons: ["one component"] },
      testPlan: ["A regression test"],
      rollback: "Revert"
    })
  }),
  embeddings: Array.from({ length: 200 }, () => OpenAiWireServer.embeddingsOfSize(8))
})

layer(serverLayer, { excludeTestServices: true, timeout: 180_000 })("replies and change-prep with an OpenAI-compatible model", (it) => {
  it.scoped("the standard model drafts from numbered sources; an answer citing what was not retrieved is refused; the complex model prepares the change", () =>
    Effect.gen(function*() {
      const server = yield* modelServer
      // While the new model's space is built, cases are matched by words alone, which a
      // non-builtin model's score curve does not count: every case is routed to a reply at 0.
      const kb = yield* knowledgeBase({
        matchMinSimilarity: 0,
        components: [{ name: "Exports", description: "CSV exports", pathHints: ["src/export/"] }]
      })
      const settings = yield* AuthFlows.call(kb.token, "/api/v1/settings/ai", {
        method: "PUT",
        body: { provider: "openai", baseUrl: server.baseUrl, models, embeddingModel: "embedder", embeddingDimensions: 8, apiKey: "sk-wire-0123456789" }
      })
      expect(settings.status).toBe(200)

      const say = (externalId: string, subject: string, body: string) =>
        Effect.map(
          deliver(kb.channelId, Signing.standardWebhooks(kb.secret, customerMessage(externalId, subject, body))),
          (sent) => (sent.body as { caseId: string }).caseId
        )
      const good = yield* say("openai-1", "CSV export fails", "Exporting my report fails with EXPORT_TOO_LARGE. What can I do?")
      const goodDraft = (yield* drafted(kb.token, good)).drafts[0]!
      expect(goodDraft).toMatchObject({ status: "pending", author: { kind: "model", name: "openai/medium-model" } })
      expect(goodDraft.body).toContain("Filter the report by date and export it in parts [1].")
      expect(goodDraft.citations).toEqual([expect.objectContaining({ n: 1, title: "Exporting reports to CSV" })])
      const replyRequest = chatOf((yield* server.requests).find((request) => asks(request, "reply"))!)
      expect(replyRequest.model).toBe("medium-model")
      expect(replyRequest.messages[0]!.content).toContain("Answer only from the numbered sources given")
      // The sources are in what the model reads, numbered.
      expect(replyRequest.messages.map((message) => message.content).join("\n")).toContain('"n":1')

      const bad = yield* say("openai-2", "CSV export fails again", "Exporting fails with EXPORT_TOO_LARGE; an invented fix, please?")
      const refused = yield* drafted(kb.token, bad)
      expect(refused.drafts[0]).toMatchObject({
        status: "rejected",
        decision: "Refused: The draft cites [9], which was not retrieved",
        citations: []
      })
      expect(refused.case.status).toBe("needs_attention")
      expect(refused.timeline.find((event) => event.kind === "draft_refused")?.data).toMatchObject({
        reason: "The draft cites [9], which was not retrieved"
      })

      const crash = yield* say("openai-3", "Export crashes", "The export crashes with a TypeError at src/export/csv.ts:42")
      expect((yield* AuthFlows.call(kb.token, `/api/v1/cases/${crash}/change-prep`, { method: "POST" })).status).toBe(202)
      const prep = yield* AuthFlows.call(kb.token, `/api/v1/cases/${crash}/change-prep`).pipe(
        Effect.flatMap((response) => response.status === 200 ? Effect.succeed(response.body) : Effect.fail("not yet")),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("30 seconds")))
      )
      expect(prep).toMatchObject({
        title: "Fix the CSV export crash",
        author: "openai/large-model",
        components: [{ name: "Exports", pathHints: ["src/export/"], why: "src/export/csv.ts in the trace" }]
      })
      const calls = yield* query<{ model: string }>("select model from ai_calls where case_id = $1 and step = 'change_prep'", [crash])
      expect(calls.map((call) => call.model)).toEqual(["large-model"])
      yield* AuthFlows.call(kb.token, "/api/v1/settings/ai", { method: "DELETE" })
    }))
})
