/**
 * Change-prep end to end, on the real API, database, job queue and worker: a bug that no
 * article answers is routed to change-prep and gets a pull-request draft grounded in its
 * messages and the product's components, listing the alike cases matching found; agents ask
 * for one by hand; it reads as JSON and as Markdown for a pull request.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import { agentToken, post } from "./DraftFlows.js"
import { deliver } from "./IntakeFlows.js"
import { customerMessage, knowledgeBase, matched, query } from "./KnowledgeFlows.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const serverLayer = TestServer.layer(undefined, { withWorker: true })

const components = [
  { name: "Exports", description: "CSV and Excel exports of reports", pathHints: ["src/export/"] },
  { name: "Sign-in", description: "Single sign-on, SAML and passwords", pathHints: ["src/auth/"] }
]

const bugReport = (externalId: string) =>
  customerMessage(
    externalId,
    "Export crashes with TypeError",
    [
      "Exporting a report to CSV crashes since the last release.",
      "",
      "Steps to reproduce:",
      "1. Open Reports and choose the Sales report",
      "2. Click Export and pick CSV",
      "3. Wait for the download",
      "",
      "Expected: a CSV file. Actual: the error below, and no file.",
      "",
      "TypeError: Cannot read properties of undefined (reading 'rows') at src/export/csv.ts:42"
    ].join("\n")
  )

interface Prep {
  readonly title: string
  readonly summary: string
  readonly reproduction: ReadonlyArray<string>
  readonly components: ReadonlyArray<{ name: string; pathHints: ReadonlyArray<string>; why: string }>
  readonly surfaces: ReadonlyArray<string>
  readonly risk: { level: string; reasons: ReadonlyArray<string> }
  readonly testPlan: ReadonlyArray<string>
  readonly rollback: string
  readonly relatedCases: ReadonlyArray<{ caseId: string; caseNumber: number }>
  readonly author: string
}

/** Waits until the case has `count` change-preps. */
const prepared = (caseId: string, count = 1) =>
  query<{ n: number }>("select count(*)::int as n from change_preps where case_id = $1", [caseId]).pipe(
    Effect.flatMap((rows) => rows[0]!.n >= count ? Effect.void : Effect.fail("not prepared yet")),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("30 seconds")))
  )

layer(serverLayer, { excludeTestServices: true, timeout: 180_000 })("change-prep", (it) => {
  it.effect("a bug no article answers gets a pull-request draft from its messages and the product's components", () =>
    Effect.gen(function*() {
      const kb = yield* knowledgeBase({ matchMinSimilarity: 1, components })
      const first = yield* deliver(kb.channelId, Signing.standardWebhooks(kb.secret, bugReport("prep-1")))
      const firstId = (first.body as { caseId: string }).caseId
      const firstCase = yield* matched(kb.token, firstId)
      const second = yield* deliver(kb.channelId, Signing.standardWebhooks(kb.secret, bugReport("prep-2")))
      const caseId = (second.body as { caseId: string }).caseId
      const detail = yield* matched(kb.token, caseId)
      expect(detail.routing).toMatchObject({ decision: "change_prep" })
      yield* prepared(caseId)

      const response = yield* AuthFlows.call(kb.token, `/api/v1/cases/${caseId}/change-prep`)
      expect(response.status).toBe(200)
      const prep = response.body as Prep
      expect(prep.title).toBe("Fix: Export crashes with TypeError")
      expect(prep.summary).toMatch(/^A bug( \(\w+\))? reported by a customer: Exporting a report to CSV crashes since the last release\./)
      // The report's own steps, word for word.
      expect(prep.reproduction).toEqual([
        "Open Reports and choose the Sales report",
        "Click Export and pick CSV",
        "Wait for the download"
      ])
      expect(prep.components[0]).toMatchObject({ name: "Exports", pathHints: ["src/export/"] })
      expect(prep.components[0]!.why).toContain("`src/export/`")
      expect(prep.components.map((component) => component.name)).not.toContain("Sign-in")
      expect(prep.surfaces).toEqual(expect.arrayContaining(["Exports", "exports"]))
      expect(["low", "medium", "high"]).toContain(prep.risk.level)
      expect(prep.risk.reasons.length).toBeGreaterThan(0)
      expect(prep.testPlan[0]).toBe("Add a regression test that fails before the fix: Open Reports and choose the Sales report")
      expect(prep.testPlan).toContain("Run Exports's tests (src/export/)")
      expect(prep.rollback).toMatch(/^Revert the pull request/)
      expect(prep.author).toBe("builtin/builtin-heuristics")
      // Matching found the first report alike: "also reported in".
      expect(prep.relatedCases).toEqual(expect.arrayContaining([expect.objectContaining({ caseId: firstId, caseNumber: firstCase.case.number })]))

      const markdown = yield* AuthFlows.call(kb.token, `/api/v1/cases/${caseId}/change-prep.md`)
      expect(markdown.status).toBe(200)
      expect(markdown.headers.get("content-type")).toMatch(/^text\/markdown/)
      const text = markdown.body as string
      expect(text.startsWith("# Fix: Export crashes with TypeError\n\n")).toBe(true)
      expect(text).toContain("## Reproduction\n\n1. Open Reports and choose the Sales report\n2. Click Export and pick CSV")
      expect(text).toContain("**Exports** (`src/export/`) — ")
      expect(text).toContain(`## Risk: ${prep.risk.level}`)
      expect(text).toContain("- [ ] Add a regression test")
      expect(text).toContain(`Also reported in #${firstCase.case.number}`)
      expect(text).toContain(`Prepared by NestFleet from case #${detail.case.number}`)
      const timeline = ((yield* AuthFlows.call(kb.token, `/api/v1/cases/${caseId}`)).body as { timeline: Array<{ kind: string }> }).timeline
      expect(timeline.map((event) => event.kind)).toContain("change_prep_written")
    }))

  it.effect("an agent asks for one by hand, whatever the routing; a case without one answers 404", () =>
    Effect.gen(function*() {
      const kb = yield* knowledgeBase({ matchMinSimilarity: 0.01, components })
      const sent = yield* deliver(kb.channelId, Signing.standardWebhooks(kb.secret, customerMessage(
        "prep-hand",
        "CSV export fails",
        "Exporting my report fails with EXPORT_TOO_LARGE. What can I do?"
      )))
      const caseId = (sent.body as { caseId: string }).caseId
      yield* matched(kb.token, caseId)
      const none = yield* AuthFlows.call(kb.token, `/api/v1/cases/${caseId}/change-prep`)
      expect(none.status).toBe(404)
      expect(none.body).toMatchObject({ _tag: "ChangePrepNotFound" })
      expect((yield* AuthFlows.call(kb.token, `/api/v1/cases/${caseId}/change-prep.md`)).status).toBe(404)

      const agent = yield* agentToken
      const requested = yield* post(agent, `/api/v1/cases/${caseId}/change-prep`)
      expect(requested.status).toBe(202)
      expect(requested.body).toMatchObject({ caseId })
      yield* prepared(caseId)
      const prep = (yield* AuthFlows.call(agent, `/api/v1/cases/${caseId}/change-prep`)).body as Prep
      // No steps in the message: none invented.
      expect(prep.reproduction).toEqual([])
      expect(prep.testPlan).toContain("Confirm the fix with the customer's scenario (the report gives no steps: ask for them)")
      expect(prep.components.map((component) => component.name)).toEqual(["Exports"])

      const unknown = crypto.randomUUID()
      expect((yield* post(agent, `/api/v1/cases/${unknown}/change-prep`)).status).toBe(404)
      expect((yield* AuthFlows.call(agent, `/api/v1/cases/${unknown}/change-prep`)).status).toBe(404)
    }))
})
