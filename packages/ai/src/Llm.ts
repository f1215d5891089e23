/**
 * The language model behind the pipeline, by tier: `fast` for classification, `standard`
 * for drafting, `complex` for change-prep, plus `embed`. A task names its tier, its
 * instructions and the Schema of its answer; the answer is decoded here, whatever the
 * provider, so a malformed answer is a typed failure the job retries — never a crash.
 *
 * Also here, because they must behave the same for every provider: the one repair turn
 * after a malformed answer, the check of embedding vectors, and the record of every model
 * call (`LlmCalls`, attributed through `LlmCallSite`).
 */
import { storable } from "@nestfleet/domain/Text"
import { Context, Data, Duration, Effect, Either, JSONSchema, Layer, ParseResult, Schema } from "effect"

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
  /** The model that was asked, when the provider knows it. */
  readonly model?: string
  readonly cause?: unknown
}> {}

/** The provider did not answer in time (LLM_TIMEOUT): a stalled or very slow server. Retryable. */
export class LlmTimedOut extends Data.TaggedError("LlmTimedOut")<{
  readonly provider: string
  readonly model: string
  readonly message: string
}> {}

/**
 * The provider answered, but not with what was asked: an answer the task's Schema does not
 * decode (after one repair turn), or embeddings of the wrong number or size. Retryable.
 */
export class LlmMalformedOutput extends Data.TaggedError("LlmMalformedOutput")<{
  readonly provider: string
  readonly model: string
  /** The task's name, or "embed". */
  readonly task: string
  readonly message: string
}> {}

export interface Generated<A> {
  readonly value: A
  readonly provider: string
  readonly model: string
}

/** The embedding space vectors belong to: vectors of different models or sizes never mix. */
export interface EmbeddingSpace {
  readonly model: string
  readonly dimensions: number
}

/** Vectors, one per text in order, and the space they belong to. */
export interface Embedded extends EmbeddingSpace {
  readonly vectors: ReadonlyArray<ReadonlyArray<number>>
  readonly provider: string
}

/** The second turn after a malformed answer: the model sees what it wrote and why it failed. */
export interface Repair {
  readonly previousAnswer: string
  readonly problem: string
}

/** What a provider is asked for one task. */
export interface CompletionRequest {
  readonly task: string
  readonly tier: Tier
  readonly instructions: string
  readonly input: string
  /** The JSON Schema the answer must follow. */
  readonly outputSchema: JSONSchema.JsonSchema7Root
  /** Set on the repair turn; a provider that cannot converse may ignore it and answer afresh. */
  readonly repair?: Repair
}

export interface Completion {
  readonly text: string
  /** The model that answered, as the provider names it. */
  readonly model: string
  readonly usage?: { readonly inputTokens: number; readonly outputTokens: number }
}

/** What a provider does: raw text for a task, and embeddings. */
export interface LlmProvider {
  /** "builtin" | "openai" (tests: "scripted", doubles). */
  readonly name: string
  /** The embedding model configured: what `embed` uses unless asked for another. */
  readonly embedding: EmbeddingSpace
  readonly complete: (request: CompletionRequest) => Effect.Effect<Completion, LlmUnavailable | LlmTimedOut>
  /**
   * Vectors of `space`'s model, by default the configured one. Another model of the same
   * server is asked for while a model change rebuilds the vectors: queries must still be
   * embedded by the model of the vectors searched. A provider that serves one model answers
   * `LlmUnavailable` for any other.
   */
  readonly embed: (
    texts: ReadonlyArray<string>,
    space?: EmbeddingSpace
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, LlmUnavailable | LlmTimedOut>
}

/** One call of a provider, as recorded for the case's run history and for cost. */
export interface LlmCall {
  /** The task's name, or "embed". */
  readonly task: string
  readonly kind: "completion" | "embedding"
  readonly provider: string
  /** The model that answered, or was asked ("unknown" when a failing provider did not say). */
  readonly model: string
  readonly inputTokens: number | null
  readonly outputTokens: number | null
  readonly latencyMs: number
  readonly outcome: "ok" | "malformed" | "unavailable" | "timeout"
  readonly caseId: string | null
  readonly step: string | null
}

export interface LlmCallRecorder {
  readonly record: (call: LlmCall) => Effect.Effect<void>
}

const noRecorder: LlmCallRecorder = { record: () => Effect.void }

/**
 * Where model calls are recorded; by default nowhere. Provide a recorder either to the `Llm`
 * layer (read when it is built) or around a call (read per call; it wins over the layer's).
 */
export class LlmCalls extends Context.Reference<LlmCalls>()("@nestfleet/ai/LlmCalls", {
  defaultValue: (): LlmCallRecorder => noRecorder
}) {}

/**
 * Who is calling the model, for the record: a pipeline step sets it around its work with
 * `Effect.provideService(LlmCallSite, { caseId, step: "triage" })`.
 */
export class LlmCallSite extends Context.Reference<LlmCallSite>()("@nestfleet/ai/LlmCallSite", {
  defaultValue: (): { readonly caseId: string | null; readonly step: string | null } => ({ caseId: null, step: null })
}) {}

export interface LlmOptions {
  /**
   * Whether a malformed answer gets one repair turn before `LlmMalformedOutput` (default:
   * true). Scripted tests turn it off so that each call answers exactly one scripted step.
   */
  readonly repair?: boolean
}

/** Where the `Llm` takes its provider from, per call: fixed, or changed by admins at run time. */
export class ProviderSource extends Context.Tag("@nestfleet/ai/ProviderSource")<ProviderSource, {
  readonly current: Effect.Effect<LlmProvider>
  readonly options: LlmOptions
}>() {}

const embedTask = "embed"

/** The answer as JSON, made storable: a model may write what PostgreSQL cannot store (a lone surrogate, a NUL). */
const parseAnswer = (text: string): Either.Either<unknown, string> =>
  Either.try({
    try: () => JSON.parse(text, (_key, value: unknown) => typeof value === "string" ? storable(value) : value),
    catch: () => "The answer is not JSON"
  })

export class Llm extends Effect.Service<Llm>()("@nestfleet/ai/Llm", {
  effect: Effect.gen(function*() {
    const source = yield* ProviderSource
    const repairs = source.options.repair ?? true
    const layerRecorder = yield* LlmCalls

    /** Records a call; a recorder that fails only costs the record, never the answer. */
    const record = (call: Omit<LlmCall, "caseId" | "step">) =>
      Effect.gen(function*() {
        const callRecorder = yield* LlmCalls
        const site = yield* LlmCallSite
        const recorder = callRecorder === noRecorder ? layerRecorder : callRecorder
        yield* recorder.record({ ...call, caseId: site.caseId, step: site.step })
      }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("Llm: a model call could not be recorded", cause)))

    const failureOutcome = (error: LlmUnavailable | LlmTimedOut) =>
      error._tag === "LlmTimedOut" ? "timeout" as const : "unavailable" as const

    /** One provider call and its decoding: the value, or the answer and what is wrong with it. */
    const attempt = <A, I>(provider: LlmProvider, task: Task<A, I>, request: CompletionRequest) =>
      Effect.gen(function*() {
        const [elapsed, answered] = yield* Effect.timed(Effect.either(provider.complete(request)))
        const common = { task: task.name, kind: "completion", provider: provider.name, latencyMs: Duration.toMillis(elapsed) } as const
        if (Either.isLeft(answered)) {
          const error = answered.left
          yield* record({
            ...common,
            model: error.model ?? "unknown",
            inputTokens: null,
            outputTokens: null,
            outcome: failureOutcome(error)
          })
          return yield* error
        }
        const answer = answered.right
        const decoded = Either.flatMap(
          parseAnswer(answer.text),
          (json) =>
            Either.mapLeft(
              Schema.decodeUnknownEither(task.output)(json),
              (error) => ParseResult.TreeFormatter.formatErrorSync(error)
            )
        )
        yield* record({
          ...common,
          model: answer.model,
          inputTokens: answer.usage?.inputTokens ?? null,
          outputTokens: answer.usage?.outputTokens ?? null,
          outcome: Either.isRight(decoded) ? "ok" : "malformed"
        })
        yield* Effect.annotateCurrentSpan({ "llm.model": answer.model, "llm.outcome": Either.isRight(decoded) ? "ok" : "malformed" })
        return { answer, decoded }
      }).pipe(Effect.withSpan("Llm.complete", { attributes: { "llm.repair": request.repair !== undefined } }))

    const generate = <A, I>(task: Task<A, I>, input: string) =>
      Effect.gen(function*() {
        const provider = yield* source.current
        yield* Effect.annotateCurrentSpan({ "llm.provider": provider.name })
        const request: CompletionRequest = {
          task: task.name,
          tier: task.tier,
          instructions: task.instructions,
          input,
          outputSchema: JSONSchema.make(task.output)
        }
        const malformed = (model: string, message: string) =>
          new LlmMalformedOutput({ provider: provider.name, model, task: task.name, message })

        const first = yield* attempt(provider, task, request)
        if (Either.isRight(first.decoded)) {
          return { value: first.decoded.right, provider: provider.name, model: first.answer.model } satisfies Generated<A>
        }
        if (!repairs) return yield* malformed(first.answer.model, first.decoded.left)
        const second = yield* attempt(provider, task, {
          ...request,
          repair: { previousAnswer: first.answer.text, problem: first.decoded.left }
        })
        if (Either.isRight(second.decoded)) {
          return { value: second.decoded.right, provider: provider.name, model: second.answer.model } satisfies Generated<A>
        }
        return yield* malformed(second.answer.model, `${second.decoded.left} (after one repair turn)`)
      }).pipe(
        Effect.withSpan(`Llm.generate ${task.name}`, { attributes: { "llm.task": task.name, "llm.tier": task.tier } })
      )

    /**
     * Vectors of the configured embedding model, or of `other` — a model of another
     * embedding space, which only the provider that made it can answer for.
     */
    const embed = (texts: ReadonlyArray<string>, other?: EmbeddingSpace & { readonly provider: string }) =>
      Effect.gen(function*() {
        const provider = yield* source.current
        const space = other === undefined ? provider.embedding : { model: other.model, dimensions: other.dimensions }
        if (other !== undefined && other.provider !== provider.name) {
          return yield* new LlmUnavailable({
            provider: other.provider,
            model: other.model,
            message: `The configured provider is ${provider.name}, not ${other.provider}`
          })
        }
        const embedded = (vectors: ReadonlyArray<ReadonlyArray<number>>): Embedded => ({
          vectors,
          provider: provider.name,
          model: space.model,
          dimensions: space.dimensions
        })
        yield* Effect.annotateCurrentSpan({ "llm.provider": provider.name, "llm.model": space.model, "llm.texts": texts.length })
        if (texts.length === 0) return embedded([])

        const [elapsed, answered] = yield* Effect.timed(
          Effect.either(other === undefined ? provider.embed(texts) : provider.embed(texts, space))
        )
        const common = {
          task: embedTask,
          kind: "embedding",
          provider: provider.name,
          model: space.model,
          // Providers report no token counts for embeddings through this interface.
          inputTokens: null,
          outputTokens: null,
          latencyMs: Duration.toMillis(elapsed)
        } as const
        if (Either.isLeft(answered)) {
          yield* record({ ...common, outcome: failureOutcome(answered.left) })
          return yield* answered.left
        }
        const vectors = answered.right
        // A vector of another size belongs to another space: stored, it would poison retrieval.
        const problem = vectors.length !== texts.length
          ? `Expected ${texts.length} vector(s), got ${vectors.length}`
          : vectors.some((vector) => vector.length !== space.dimensions)
          ? `Expected vectors of ${space.dimensions} dimensions (${space.model}), got ${
            [...new Set(vectors.map((vector) => vector.length))].join(", ")
          }`
          : undefined
        yield* record({ ...common, outcome: problem === undefined ? "ok" : "malformed" })
        if (problem !== undefined) {
          return yield* new LlmMalformedOutput({ provider: provider.name, model: space.model, task: embedTask, message: problem })
        }
        return embedded(vectors)
      }).pipe(Effect.withSpan("Llm.embed"))

    return {
      generate,
      embed,
      /** The provider calls go to now (it may change between calls with `layerDynamic`). */
      currentProvider: source.current
    } as const
  })
}) {
  /** The Llm over a provider given directly (tests, or a provider chosen at start). */
  static readonly layerWith = (provider: LlmProvider, options: LlmOptions = {}) =>
    Llm.layerDynamic(Effect.succeed(provider), options)

  /**
   * The Llm over whatever provider `current` gives at each call: AI settings that admins
   * change at run time take effect without a restart. `current` should hand back a cached
   * provider (see `makeProvider`), since a provider remembers what its server can do.
   */
  static readonly layerDynamic = (current: Effect.Effect<LlmProvider>, options: LlmOptions = {}) =>
    Llm.Default.pipe(Layer.provide(Layer.succeed(ProviderSource, { current, options })))
}
