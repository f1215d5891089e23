/** What `Llm.generate` makes of a model's answer, whatever the provider. */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Llm } from "../src/Llm.js"
import * as ScriptedProvider from "../src/testing/ScriptedProvider.js"
import * as TriageTask from "../src/TriageTask.js"

it.effect("makes what PostgreSQL cannot store storable: lone surrogates and NUL in the answer become U+FFFD", () =>
  Effect.gen(function*() {
    const llm = yield* Llm
    const generated = yield* llm.generate(TriageTask.triage, TriageTask.encodeInput({ subject: "Crash", body: "" }))
    expect(generated.value.summary).toBe("Bug report: \uFFFD crash\uFFFD")
    expect(generated.value.reasoning[0]!.evidence).toEqual(["cra\uFFFDsh"])
  }).pipe(Effect.provide(ScriptedProvider.layer([
    // As a model would write them: JSON escapes, which JSON.parse turns into the characters.
    ScriptedProvider.text(
      TriageTask.triage,
      String.raw`{"type":"bug","severity":"high","confidence":0.9,"summary":"Bug report: \ud800 crash\u0000",` +
        String.raw`"reasoning":[{"step":"Type: bug","detail":"d","evidence":["cra\udc00sh"]}]}`
    )
  ]))))
