/**
 * A scripted `Llm` for tests: each call of a task gets the next answer the test wrote for
 * that task, and the test can read back what the model was asked. A call the script has no
 * answer for — a task it does not name, one call too many, an embedding — dies naming the
 * task, so a test never passes on an answer nobody wrote.
 *
 * An answer is a value (in the encoded form of the task's Schema, as JSON: what a model that
 * did its job would write), raw text (to exercise a malformed answer) or `LlmUnavailable` (an
 * outage):
 *
 *   const llm = ScriptedProvider.layer([
 *     ScriptedProvider.text(TriageTask.triage, "Sure! It is a bug."),
 *     ScriptedProvider.answer(TriageTask.triage, { type: "bug", severity: "high", confidence: 0.9, … })
 *   ])
 *
 *   it.effect("retries a malformed answer", () =>
 *     Effect.gen(function*() {
 *       // … the code under test asks for a triage twice …
 *       const asked = yield* ScriptedProvider.requests // [{ task: "triage", tier: "fast", input, … }, …]
 *     }).pipe(Effect.provide(llm)))
 *
 * Each build of the layer starts the script afresh, so a test that provides it gets its own.
 *
 * Each call answers exactly one step: the `Llm`'s repair turn after a malformed answer is off
 * here, so a malformed step is an `LlmMalformedOutput` at once. A test of the repair turn
 * passes `{ repair: true }`; the repair request (its `repair` field set) then takes the next
 * step of its task.
 */
import { Context, Effect, Layer, Ref } from "effect"
import { type CompletionRequest, Llm, type LlmOptions, type LlmProvider, LlmUnavailable, type Task } from "../Llm.js"

export const name = "scripted"
export const model = "scripted-1"

type Reply =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Unavailable"; readonly message: string }

/** The answer to one call of one task. */
export interface Step {
  readonly task: string
  readonly reply: Reply
}

/**
 * The task answers `value` as JSON. It is written in the Schema's encoded form — what a model
 * writes — so Schema classes in it (a `ReasoningStep`) are plain objects.
 */
export const answer = <A, I>(task: Task<A, I>, value: NoInfer<I>): Step => ({
  task: task.name,
  reply: { _tag: "Text", text: JSON.stringify(value) }
})

/** The task answers `text` as it is: JSON of the wrong shape, prose, nothing. */
export const text = <A, I>(task: Task<A, I>, text: string): Step => ({ task: task.name, reply: { _tag: "Text", text } })

/** The task fails with `LlmUnavailable`, as an unreachable or rate-limited provider does. */
export const unavailable = <A, I>(task: Task<A, I>, message: string): Step => ({
  task: task.name,
  reply: { _tag: "Unavailable", message }
})

/** What the scripted provider has been asked so far, oldest first. */
export class Requests extends Context.Tag("@nestfleet/ai/testing/ScriptedProvider/Requests")<
  Requests,
  { readonly all: Effect.Effect<ReadonlyArray<CompletionRequest>> }
>() {}

export const requests: Effect.Effect<ReadonlyArray<CompletionRequest>, never, Requests> = Effect.flatMap(
  Requests,
  (recorded) => recorded.all
)

interface State {
  readonly asked: ReadonlyArray<CompletionRequest>
  readonly remaining: ReadonlyArray<Step>
}

/** The `Llm` answering from `script`, and the record of what it was asked. */
export const layer = (script: ReadonlyArray<Step>, options: LlmOptions = {}): Layer.Layer<Llm | Requests> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const state = yield* Ref.make<State>({ asked: [], remaining: script })

    /** Records the request and takes the first step left for its task, if any. */
    const next = (request: CompletionRequest) =>
      Ref.modify(state, ({ asked, remaining }): [{ step: Step | undefined; calls: number }, State] => {
        const index = remaining.findIndex((step) => step.task === request.task)
        const calls = asked.filter((earlier) => earlier.task === request.task).length + 1
        return [
          { step: remaining[index], calls },
          { asked: [...asked, request], remaining: index === -1 ? remaining : remaining.toSpliced(index, 1) }
        ]
      })

    const provider: LlmProvider = {
      name,
      // Not scripted (embed dies): the space only names what a test would never see.
      embedding: { model: "scripted-embedding", dimensions: 0 },
      complete: (request) =>
        Effect.flatMap(next(request), ({ calls, step }) => {
          if (step === undefined) {
            return Effect.die(
              `ScriptedProvider: the script has no answer for call ${calls} of the task ${request.task} ` +
                `(it answers ${script.filter((entry) => entry.task === request.task).length} call(s) of it)`
            )
          }
          return step.reply._tag === "Text"
            ? Effect.succeed({ text: step.reply.text, model })
            : Effect.fail(new LlmUnavailable({ provider: name, message: step.reply.message }))
        }),
      embed: () => Effect.die("ScriptedProvider: embed is not scripted")
    }

    return Layer.merge(
      Llm.layerWith(provider, { repair: false, ...options }),
      Layer.succeed(Requests, { all: Effect.map(Ref.get(state), (current) => current.asked) })
    )
  }))
