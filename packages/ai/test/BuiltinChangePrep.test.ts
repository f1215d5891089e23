import { describe, expect, it } from "@effect/vitest"
import * as BuiltinChangePrep from "../src/BuiltinChangePrep.js"
import { Schema } from "effect"
import { type ChangePrepInput, ChangePrepOutput } from "../src/ChangePrepTask.js"

const input = (messages: ReadonlyArray<string>, fields: Partial<ChangePrepInput> = {}): ChangePrepInput => ({
  subject: "Export broken",
  type: "bug",
  severity: "medium",
  messages,
  components: [
    { name: "Exports", description: "CSV exports of reports", pathHints: ["src/export/**"] },
    { name: "Billing", description: "Plans, invoices and payments", pathHints: ["src/billing/"] },
    { name: "Storage", description: "Database migrations and stored data", pathHints: ["db/migrations/"] }
  ],
  ...fields
})

describe("BuiltinChangePrep", () => {
  it("takes the report's steps under its heading, else its numbered lines, else none", () => {
    expect(BuiltinChangePrep.reproductionOf("Hi\n\n## Steps to reproduce\n- Open it\n- Click it\n\n## Expected\n1. not a step")).toEqual([
      "Open it",
      "Click it"
    ])
    expect(BuiltinChangePrep.reproductionOf("It fails.\n1) Log in\n2) Export")).toEqual(["Log in", "Export"])
    expect(BuiltinChangePrep.reproductionOf("It fails every time I export.")).toEqual([])
  })

  it("suspects a component named by a path first, then one sharing words, and says why", () => {
    const text = "The CSV export of my report fails at src/export/csv.ts:10 and my invoices look fine"
    const suspected = BuiltinChangePrep.suspectedComponents(input([text]), text)
    expect(suspected.map((component) => component.name)).toEqual(["Exports", "Billing"])
    expect(suspected[0]!.why).toBe('the messages name `src/export/**`; the messages say "export", "csv", "report"')
    expect(suspected[1]!.why).toBe('the messages say "invoice"')
  })

  it("rates the risk from the severity, an incident, stored data and sign-in, with reasons", () => {
    expect(BuiltinChangePrep.riskOf(input([], { severity: "low" }), [], 1)).toEqual({ level: "low", reasons: ["triage rated it low"] })
    expect(BuiltinChangePrep.riskOf(input([], { severity: "low" }), ["stored data"], 1).level).toBe("high")
    expect(BuiltinChangePrep.riskOf(input([], { severity: "low", type: "incident" }), [], 0).reasons).toContain(
      "an incident: customers are affected while it lasts"
    )
    expect(BuiltinChangePrep.riskOf(input([], { severity: null }), ["sign-in"], 2)).toEqual({
      level: "medium",
      reasons: ["it touches sign-in", "2 components are suspected"]
    })
  })

  it("answers what its task's schema takes: at most 10 surfaces, however many a report names", () => {
    const everything = "The API endpoint and the page button, email, login, exports, webhooks, the database, it is slow, " +
      "on iOS and in the CLI, in src/export/ and src/billing/ and db/migrations/ with my invoices and exports stored data"
    const draft = BuiltinChangePrep.prepare(input([everything]))
    expect(draft.surfaces).toHaveLength(10)
    expect(Schema.decodeUnknownEither(ChangePrepOutput)(draft)._tag).toBe("Right")
  })

  it("writes a grounded draft: nothing the report does not say", () => {
    const draft = BuiltinChangePrep.prepare(input(["Exporting a report to CSV returns HTTP 500 after the migration ran."]))
    expect(draft.title).toBe("Fix: Export broken")
    expect(draft.reproduction).toEqual([])
    expect(draft.components.map((component) => component.name)).toEqual(["Exports", "Storage"])
    expect(draft.surfaces).toEqual(["Exports", "Storage", "API", "exports", "stored data"])
    expect(draft.risk.level).toBe("high")
    expect(draft.testPlan.at(-1)).toBe("Confirm the fix with the customer's scenario (the report gives no steps: ask for them)")
    expect(draft.rollback).toContain("reverse migration")
  })
})
