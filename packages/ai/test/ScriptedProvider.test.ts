import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Schema } from "effect"
import { Llm, LlmMalformedOutput, LlmUnavailable, task } from "../src/Llm.js"
import * as ScriptedProvider from "../src/testing/ScriptedProvider.js"
import * as TriageTask from "../src/TriageTask.js"

const bug: typeof TriageTask.TriageOutput.Encoded = {
  type: "bug",
  severity: "high",
  confidence: 0.9,
  summary: "Bug report: Checkout crashes",
  reasoning: [{ step: "Type: bug", detail: "It crashes", evidence: ["crashes"] }]
}

const summarise = task({
  name: "summarise",
  tier: "standard",
  instructions: "Summarise the thread.",
  output: Schema.Struct({ summary: Schema.String })
})

const triage = (subject: string) =>
  Effect.flatMap(Llm, (llm) => llm.generate(TriageTask.triage, TriageTask.encodeInput({ subject, body: "" })))

/** What `exit` died with, if it died. */
const defect = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? String(Option.getOrUndefined(Cause.dieOption(exit.cause))) : undefined

describe("ScriptedProvider", () => {
  it.effect("answers a value through the Llm service, decoded by the task's Schema", () =>
    Effect.gen(function*() {
      const generated = yield* triage("Checkout crashes")
      expect(generated).toMatchObject({ provider: ScriptedProvider.name, model: ScriptedProvider.model })
      expect(Schema.encodeSync(TriageTask.TriageOutput)(generated.value)).toEqual(bug)
    }).pipe(Effect.provide(ScriptedProvider.layer([ScriptedProvider.answer(TriageTask.triage, bug)]))))

  it.effect("answers each task's calls in the order scripted, and records what it was asked", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const first = yield* Effect.flip(triage("first"))
      expect(first).toBeInstanceOf(LlmMalformedOutput)
      expect(first.message).toContain("not JSON")
      expect((yield* llm.generate(summarise, "thread")).value).toEqual({ summary: "A crash" })
      const second = yield* Effect.flip(triage("second"))
      expect(second).toBeInstanceOf(LlmUnavailable)
      expect(second).toMatchObject({ provider: "scripted", message: "rate limited" })
      expect((yield* triage("third")).value.type).toBe("bug")

      const asked = yield* ScriptedProvider.requests
      expect(asked.map(({ input, task, tier }) => ({ task, tier, input }))).toEqual([
        { task: "triage", tier: "fast", input: TriageTask.encodeInput({ subject: "first", body: "" }) },
        { task: "summarise", tier: "standard", input: "thread" },
        { task: "triage", tier: "fast", input: TriageTask.encodeInput({ subject: "second", body: "" }) },
        { task: "triage", tier: "fast", input: TriageTask.encodeInput({ subject: "third", body: "" }) }
      ])
      expect(asked[0]!.instructions).toBe(TriageTask.triage.instructions)
    }).pipe(Effect.provide(ScriptedProvider.layer([
      ScriptedProvider.text(TriageTask.triage, "Sure! It is a bug."),
      ScriptedProvider.unavailable(TriageTask.triage, "rate limited"),
      ScriptedProvider.answer(summarise, { summary: "A crash" }),
      ScriptedProvider.answer(TriageTask.triage, bug)
    ]))))

  it.effect("dies naming the task when asked what the script does not answer", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const unscripted = yield* Effect.exit(llm.generate(summarise, "thread"))
      expect(defect(unscripted)).toContain("task summarise")
      yield* triage("once")
      const again = yield* Effect.exit(triage("twice"))
      expect(defect(again)).toContain("call 2 of the task triage (it answers 1 call(s) of it)")
      expect(defect(yield* Effect.exit(llm.embed(["text"])))).toContain("embed is not scripted")
      // Unanswered calls are recorded too: a test can see what was asked in vain.
      const asked = yield* ScriptedProvider.requests
      expect(asked.map((request) => request.task)).toEqual(["summarise", "triage", "triage"])
    }).pipe(Effect.provide(ScriptedProvider.layer([ScriptedProvider.answer(TriageTask.triage, bug)]))))

  it.effect("starts the script afresh for each build of the layer", () =>
    Effect.gen(function*() {
      const llm = ScriptedProvider.layer([ScriptedProvider.answer(TriageTask.triage, bug)])
      for (const subject of ["one build", "another build"]) {
        const asked = yield* Effect.zipRight(triage(subject), ScriptedProvider.requests).pipe(Effect.provide(llm))
        expect(asked).toHaveLength(1)
      }
    }))
})
