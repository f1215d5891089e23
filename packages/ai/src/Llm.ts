/**
 * The language model behind the pipeline, by tier: `fast` for classification, `standard`
 * for drafting, `complex` for change-prep, plus `embed`. A task names its tier, its
 * instructions and the Schema of its answer; the answer is decoded here, whatever the
 * provider, so a malformed answer is a typed failure the job retries — never a crash.
 */
import { storable } from "@nestfleet/domain/Text"
import { Context, Data, Effect, JSONSchema, Layer, ParseResult, Schema } from "effect"

export type Tier = "fast" | "standard" | "complex"

/** A piece of structured work for the model. */
export interface Task<A, I> {
  readonly name: string
  readonly tier: Tier
  /** What the model is asked to do (the system prompt of a chat model). */
  readonly instructions: string
  readonly output: Schema.Schema<A, I>
}

export const task = <A, I>(options: Task<A, I>): Task<A, I> => options

/** The provider could not answer: unreachable, refused, rate-limited. Retryable. */
export class LlmUnavailable extends Data.TaggedError("LlmUnavailable")<{
  readonly provider: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** The provider answered, but not with what the task's Schema describes. Retryable. */
export class LlmMalformedOutput extends Data.TaggedError("LlmMalformedOutput")<{
  readonly provider: string
  readonly model: string
  readonly task: string
  readonly message: string
}> {}

export interface Generated<A> {
  readonly value: A
  readonly provider: string
  readonly model: string
}

/** What a provider is asked for one task. */
export interface CompletionRequest {
  readonly task: string
  readonly tier: Tier
  readonly instructions: string
  readonly input: string
  /** The JSON Schema the answer must follow. */
  readonly outputSchema: JSONSchema.JsonSchema7Root
}

/** What a provider does: raw text for a task, and embeddings. */
export interface LlmProvider {
  readonly name: string
  readonly complete: (
    request: CompletionRequest
  ) => Effect.Effect<{ readonly text: string; readonly model: string }, LlmUnavailable>
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, LlmUnavailable>
}

export class Provider extends Context.Tag("@nestfleet/ai/Provider")<Provider, LlmProvider>() {}

export class Llm extends Effect.Service<Llm>()("@nestfleet/ai/Llm", {
  effect: Effect.gen(function*() {
    const provider = yield* Provider

    const generate = <A, I>(task: Task<A, I>, input: string) =>
      Effect.gen(function*() {
        const answer = yield* provider.complete({
          task: task.name,
          tier: task.tier,
          instructions: task.instructions,
          input,
          outputSchema: JSONSchema.make(task.output)
        })
        const malformed = (message: string) =>
          new LlmMalformedOutput({ provider: provider.name, model: answer.model, task: task.name, message })
        const json = yield* Effect.try({
          // A model may write what PostgreSQL cannot store (a lone surrogate, a NUL): made
          // storable here, or the step that stores the answer would fail on every retry.
          try: () => JSON.parse(answer.text, (_key, value: unknown) => typeof value === "string" ? storable(value) : value),
          catch: () => malformed("The answer is not JSON")
        })
        const value = yield* Schema.decodeUnknown(task.output)(json).pipe(
          Effect.mapError((error) => malformed(ParseResult.TreeFormatter.formatErrorSync(error)))
        )
        return { value, provider: provider.name, model: answer.model } satisfies Generated<A>
      }).pipe(
        Effect.withSpan(`Llm.generate ${task.name}`, {
          attributes: { "llm.task": task.name, "llm.tier": task.tier, "llm.provider": provider.name }
        })
      )

    const embed = (texts: ReadonlyArray<string>) =>
      provider.embed(texts).pipe(Effect.withSpan("Llm.embed", { attributes: { "llm.provider": provider.name } }))

    return { generate, embed, provider: provider.name } as const
  })
}) {
  /** The Llm over a provider given directly (tests, or a provider chosen at start). */
  static readonly layerWith = (provider: LlmProvider) =>
    Llm.Default.pipe(Layer.provide(Layer.succeed(Provider, provider)))
}
