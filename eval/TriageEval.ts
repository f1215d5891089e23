/**
 * `pnpm eval triage <file.jsonl>`: each labelled issue is delivered as a signed webhook to a
 * running NestFleet, triaged by its worker's real triage job, and read back from the case
 * detail; the figures are those of eval/tools/triage-baseline.ts (accuracy, macro-F1, per-type
 * precision and recall, the confusion table, severity accuracy, calibration error).
 */
import * as NestFleetProcess from "./lib/NestFleetProcess.js"
import { type Outcome, readIssues, report } from "./tools/triage-baseline.js"

interface Detail {
  readonly triage: { type: Outcome["type"]; severity: Outcome["severity"]; confidence: number; provider: string; model: string } | null
}

export const main = async (args: ReadonlyArray<string>) => {
  const file = args[0]
  if (file === undefined) throw new Error("usage: pnpm eval triage <file.jsonl>")
  const issues = readIssues(file)
  const nestfleet = await NestFleetProcess.start()
  try {
    const product = await nestfleet.call<{ id: string }>("/api/v1/products", {
      method: "POST",
      body: { name: "Triage evaluation", slug: `triage-eval-${Date.now()}` }
    })
    const channel = await nestfleet.call<{ channel: { id: string }; secret: string }>(
      `/api/v1/products/${product.body.id}/channels`,
      { method: "POST", body: { type: "webhook", name: "labelled issues" } }
    )
    const outcomes: Array<Outcome> = []
    let provider = ""
    await NestFleetProcess.forEachLimited(issues, 4, "triaged", async (issue) => {
      const delivered = await nestfleet.deliver(channel.body.channel.id, channel.body.secret, {
        externalId: issue.id,
        subject: issue.title,
        body: issue.body.trim() === "" ? issue.title : issue.body,
        customer: { name: "evaluation" }
      })
      if (delivered.status !== 202) throw new Error(`${issue.id}: the webhook answered ${delivered.status}`)
      const triage = await NestFleetProcess.eventually(async () =>
        (await nestfleet.call<Detail>(`/api/v1/cases/${delivered.body.caseId}`)).body.triage ?? undefined
      )
      provider = `${triage.provider} (${triage.model})`
      outcomes.push({ issue, type: triage.type, severity: triage.severity, confidence: triage.confidence })
    })
    console.log(`provider: ${provider}`)
    console.log(report(file, issues.map((issue) => outcomes.find((outcome) => outcome.issue === issue)!)))
  } catch (error) {
    process.stderr.write(`\nThe run failed; the end of NestFleet's log:\n${nestfleet.logTail()}\n`)
    throw error
  } finally {
    await nestfleet.stop()
  }
}
