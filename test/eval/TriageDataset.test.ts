/**
 * The triage eval set (eval/triage/*.jsonl): the label rules of its builder, and the invariants
 * of the committed files (valid types, held-out projects disjoint from dev, rebuildable from raw).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { build, labelSeverity, parseRaw, severityOf, typeOf } from "../../eval/tools/build-triage-dataset.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const triage = Path.join(root, "eval/triage")
const read = (split: string) =>
  Fs.readFileSync(Path.join(triage, `${split}.jsonl`), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { id: string; repo: string; type: string; severity: string | null; split: string; body: string })

describe("label rules", () => {
  const typed = (labels: Array<string>) => {
    const d = typeOf(labels)
    return d.kind === "typed" ? d.type : d.kind
  }
  it("maps type labels, the specific ones first", () => {
    expect(typed(["bug"])).toBe("bug")
    expect(typed(["kind/support", "triage/needs-information"])).toBe("question")
    expect(typed(["type: feature request"])).toBe("feature_request")
    expect(typed(["documentation"])).toBe("other")
    expect(typed(["bug", "area:auth"])).toBe("account")
    expect(typed(["bug", "Arctos Down"])).toBe("incident")
    expect(typed(["pricing", "theme:account"])).toBe("billing")
    expect(typed(["regression", "P0"])).toBe("incident")
    expect(typed(["regression", "P2"])).toBe("bug")
  })
  it("skips issues without a type label or with two", () => {
    expect(typed(["needs triage", "stale"])).toBe("unlabelled")
    expect(typed(["bug", "documentation"])).toBe("ambiguous")
    expect(typed(["affects_2.8", "feature", "support:core"])).toBe("feature_request")
  })
  it("reads severity only from priority or severity labels", () => {
    expect(labelSeverity("P0")).toBe("critical")
    expect(labelSeverity("priority/P1")).toBe("high")
    expect(labelSeverity("Priority: Critical")).toBe("critical")
    expect(labelSeverity("sev3")).toBe("medium")
    expect(labelSeverity("High")).toBe("high")
    expect(labelSeverity("Bug - Critical")).toBeNull()
    expect(labelSeverity("priority/important-soon")).toBeNull()
    expect(severityOf(["P2", "blocker"])).toBe("critical")
  })
})

describe("the committed eval set", () => {
  const dev = read("dev")
  const heldout = read("heldout")
  it("has the promised size, valid labels and no project in both parts", () => {
    expect(dev.length).toBeGreaterThanOrEqual(250)
    expect(heldout.length).toBeGreaterThanOrEqual(150)
    const types = ["bug", "question", "feature_request", "incident", "billing", "account", "other"]
    for (const item of [...dev, ...heldout]) {
      expect(types).toContain(item.type)
      expect([null, "critical", "high", "medium", "low"]).toContain(item.severity)
      expect(item.body.length).toBeLessThanOrEqual(4000)
    }
    expect(dev.every((i) => i.split === "dev") && heldout.every((i) => i.split === "heldout")).toBe(true)
    const devRepos = new Set(dev.map((i) => i.repo))
    expect(heldout.filter((i) => devRepos.has(i.repo))).toEqual([])
    expect(new Set([...dev, ...heldout].map((i) => i.repo)).size).toBeGreaterThanOrEqual(40)
  })
  it("is what the builder makes of raw/ (no hand edits to the jsonl)", () => {
    const rawDir = Path.join(triage, "raw")
    const raw = Fs.readdirSync(rawDir)
      .filter((f) => f.endsWith(".txt"))
      .toSorted()
      .flatMap((f) => parseRaw(Fs.readFileSync(Path.join(rawDir, f), "utf8"), f))
    const { items } = build(raw)
    expect(items.filter((i) => i.split === "dev").map((i) => i.id)).toEqual(dev.map((i) => i.id))
    expect(items.filter((i) => i.split === "heldout").map((i) => i.id)).toEqual(heldout.map((i) => i.id))
  })
})
