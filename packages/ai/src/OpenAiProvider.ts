/**
 * The provider for any OpenAI-compatible server (OpenAI, Azure OpenAI, OpenRouter, Ollama,
 * vLLM, LM Studio, llama.cpp server) through the `openai` SDK.
 *
 * An answer is asked for with strict structured output (the task's JSON Schema). Servers
 * without it refuse `response_format` with a 400/422; the provider then asks in JSON mode
 * with the schema in the prompt, and, if that is refused too, with the prompt alone — and
 * remembers, so later calls of this provider go straight there. Decoding (and the repair
 * turn) is the `Llm`'s, whatever the provider.
 *
 * The API key is read from its `Redacted` per request and scrubbed from every message this
 * module writes; it is never logged nor put in errors or spans.
 */
import { Clock, Duration, Effect, HashSet, Option, Redacted, Ref } from "effect"
import OpenAI from "openai"
import type { Completion, CompletionRequest, EmbeddingSpace, LlmProvider } from "./Llm.js"
import { LlmTimedOut, LlmUnavailable } from "./Llm.js"
import type { OpenAiSettings } from "./LlmConfig.js"
import { classify, defaultRetryPolicy, Failure, refusesParameter, retrySchedule, type RetryPolicy } from "./OpenAiFailure.js"
import { formatName, forPrompt, restoreAbsent, toStrict } from "./StrictJsonSchema.js"

export const name = "openai"

/** Inputs per embeddings request: under every server's limit we know of (OpenAI allows 2048, some 96–128). */
export const embeddingBatchSize = 96

export interface Options {
  /** How 429s and 5xx are retried (tests shorten it). */
  readonly retry?: RetryPolicy
}

/** How an answer's JSON is asked for, from the best a server may support to what any server does. */
type ResponseMode = "json_schema" | "json_object" | "prompt"
const responseModes: ReadonlyArray<ResponseMode> = ["json_schema", "json_object", "prompt"]

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam
type ResponseFormat = NonNullable<OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming["response_format"]>

const refusedResponseFormat = /response_format|json_schema|json_object/i
const refusedDimensions = /dimensions|matryoshka/i

/** The server as messages name it: no credentials in the URL, no query. */
const describeServer = (baseUrl: string) => {
  const url = new URL(baseUrl)
  return `${url.origin}${url.pathname.replace(/\/$/, "")}`
}

const systemPrompt = (request: CompletionRequest, mode: ResponseMode) =>
  mode === "json_schema"
    ? `${request.instructions}\n\nAnswer with one JSON object, and nothing else.`
    : `${request.instructions}\n\nAnswer with one JSON object, and nothing else, that follows this JSON Schema:\n${
      JSON.stringify(forPrompt(request.outputSchema))
    }`

const messagesFor = (request: CompletionRequest, mode: ResponseMode): Array<Message> => [
  { role: "system", content: systemPrompt(request, mode) },
  { role: "user", content: request.input },
  ...(request.repair === undefined ? [] : [
    { role: "assistant", content: request.repair.previousAnswer },
    {
      role: "user",
      content: `That answer cannot be used: ${request.repair.problem}\n` +
        "Answer again with the corrected JSON object only."
    }
  ] satisfies Array<Message>)
]

/** The provider over `settings`. Keep it: it remembers what its server refused. */
export const make = (settings: OpenAiSettings, options: Options = {}): Effect.Effect<LlmProvider> =>
  Effect.gen(function*() {
    const retry = options.retry ?? defaultRetryPolicy
    const responseMode = yield* Ref.make<ResponseMode>("json_schema")
    /** Embedding models that refused the `dimensions` parameter: asked without it from then on. */
    const refuseDimensions = yield* Ref.make(HashSet.empty<string>())
    const server = describeServer(settings.baseUrl)
    const embedding: EmbeddingSpace = { model: settings.embeddingModel, dimensions: settings.embeddingDimensions }
    const key = settings.apiKey
    const client = new OpenAI({
      baseURL: settings.baseUrl,
      // A function, so that the client never holds the key as a string an inspection would print.
      // Servers on one's own machine need no key, but the SDK wants one: any placeholder does.
      apiKey: key === undefined ? "no-key" : () => Promise.resolve(Redacted.value(key)),
      adminAPIKey: null,
      organization: null,
      project: null,
      // Retries and timeouts are ours, on Effect's Clock; the SDK's timeout only ends a
      // request that outlives ours.
      maxRetries: 0,
      timeout: Duration.toMillis(settings.timeout) + 1_000,
      logLevel: "off"
    })

    const scrub = (text: string) => {
      const secret = key === undefined ? "" : Redacted.value(key)
      return secret === "" ? text : text.replaceAll(secret, "[redacted]")
    }

    /** One request, retried while it fails transiently; the SDK's errors sorted as `Failure`. */
    const send = <A>(run: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, Failure> =>
      Effect.tryPromise({ try: run, catch: (error) => error }).pipe(
        Effect.catchAll((error) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(classify(error, now)))),
        Effect.timeoutFail({ duration: settings.timeout, onTimeout: () => Failure.TimedOut({ message: "no answer in time" }) }),
        Effect.retry(retrySchedule(retry))
      )

    const toLlmError = (model: string) => (failure: Failure): LlmUnavailable | LlmTimedOut => {
      switch (failure._tag) {
        case "TimedOut":
          return new LlmTimedOut({
            provider: name,
            model,
            message: `${server} did not answer within ${Duration.format(settings.timeout)} (LLM_TIMEOUT)`
          })
        case "Transient": {
          const asked = Option.filter(failure.retryAfter, Duration.greaterThan(retry.maxWait))
          const why = Option.match(asked, {
            onNone: () => `(tried ${retry.maxRetries + 1} times)`,
            onSome: (wait) => `(it asks to wait ${Duration.format(wait)}, longer than ${Duration.format(retry.maxWait)})`
          })
          return new LlmUnavailable({ provider: name, model, message: `${server} answered ${scrub(failure.message)} ${why}` })
        }
        case "Rejected":
          return new LlmUnavailable({
            provider: name,
            model,
            message: `${server} refused the request: ${scrub(failure.message)}`
          })
        case "Unreachable":
          return new LlmUnavailable({ provider: name, model, message: `${server} could not be reached: ${scrub(failure.message)}` })
      }
    }

    /** Asks in the mode this server is known to take, stepping down each time it refuses one. */
    const chat = (request: CompletionRequest, model: string) => {
      const strict = toStrict(request.outputSchema)
      const responseFormat = (mode: ResponseMode): { response_format?: ResponseFormat } => {
        switch (mode) {
          case "json_schema":
            return {
              response_format: {
                type: "json_schema",
                json_schema: { name: formatName(request.task), strict: strict.strict, schema: strict.schema }
              }
            }
          case "json_object":
            return { response_format: { type: "json_object" } }
          case "prompt":
            return {}
        }
      }
      const ask = (): Effect.Effect<{ mode: ResponseMode; response: OpenAI.Chat.Completions.ChatCompletion }, Failure> =>
        Effect.flatMap(Ref.get(responseMode), (mode) =>
          send((signal) =>
            client.chat.completions.create({ model, messages: messagesFor(request, mode), ...responseFormat(mode) }, { signal })
          ).pipe(
            Effect.map((response) => ({ mode, response })),
            Effect.catchIf(
              (failure) => refusesParameter(failure, refusedResponseFormat) && mode !== "prompt",
              () => {
                const next = responseModes[responseModes.indexOf(mode) + 1]!
                return Effect.logWarning(`OpenAiProvider: ${server} refused response_format ${mode}; asking with ${next} from now on`)
                  .pipe(
                    // Never back up: a concurrent call may have stepped further down already.
                    Effect.zipRight(Ref.update(responseMode, (now) =>
                      responseModes.indexOf(now) >= responseModes.indexOf(next) ? now : next)),
                    Effect.zipRight(Effect.suspend(ask))
                  )
              }
            )
          ))
      return { ask, strict }
    }

    const complete = (request: CompletionRequest): Effect.Effect<Completion, LlmUnavailable | LlmTimedOut> => {
      const model = settings.models[request.tier]
      const { ask, strict } = chat(request, model)
      return ask().pipe(
        Effect.mapError(toLlmError(model)),
        Effect.flatMap(({ mode, response }) => {
          const choice = response.choices[0]
          const content = choice?.message.content
          if (content == null || content === "") {
            const refusal = choice?.message.refusal
            return Effect.fail(
              new LlmUnavailable({
                provider: name,
                model,
                message: refusal == null ? `${server} answered no content` : `The model refused: ${scrub(refusal)}`
              })
            )
          }
          const answeredModel = response.model === "" || response.model == null ? model : response.model
          const usage = response.usage == null ? {} : {
            usage: { inputTokens: response.usage.prompt_tokens, outputTokens: response.usage.completion_tokens }
          }
          return Effect.succeed({
            text: mode === "json_schema" && strict.optionalsMadeNullable ? restoreNulls(request, content) : content,
            model: answeredModel,
            ...usage
          } satisfies Completion)
        }),
        Effect.withSpan("OpenAiProvider.complete", {
          attributes: { "llm.model": model, "llm.task": request.task, "server.address": server }
        })
      )
    }

    const vectorsOf = (model: string) => (response: OpenAI.CreateEmbeddingResponse) => {
      const vectors = [...response.data].sort((a, b) => a.index - b.index).map((item) => item.embedding)
      return vectors.every((vector) => Array.isArray(vector) && vector.every((x) => typeof x === "number"))
        ? Effect.succeed(vectors)
        : Effect.fail(
          new LlmUnavailable({ provider: name, model, message: `${server} answered embeddings that are not lists of numbers` })
        )
    }

    const embedBatch = (
      space: EmbeddingSpace,
      batch: ReadonlyArray<string>
    ): Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, LlmUnavailable | LlmTimedOut> =>
      Effect.flatMap(Ref.get(refuseDimensions), (refusing) => {
        const withDimensions = !HashSet.has(refusing, space.model)
        return send((signal) =>
          client.embeddings.create({
            model: space.model,
            input: [...batch],
            encoding_format: "float",
            ...(withDimensions ? { dimensions: space.dimensions } : {})
          }, { signal })
        ).pipe(
          Effect.matchEffect({
            onSuccess: vectorsOf(space.model),
            onFailure: (failure) =>
              withDimensions && refusesParameter(failure, refusedDimensions)
                // A model that cannot shorten its vectors: then its own size must be the configured one (the Llm checks).
                ? Effect.logWarning(
                  `OpenAiProvider: ${server} refused dimensions for ${space.model}; asking without from now on`
                ).pipe(
                  Effect.zipRight(Ref.update(refuseDimensions, HashSet.add(space.model))),
                  Effect.zipRight(Effect.suspend(() => embedBatch(space, batch)))
                )
                : Effect.fail(toLlmError(space.model)(failure))
          })
        )
      })

    const embed = (texts: ReadonlyArray<string>, space: EmbeddingSpace = embedding) => {
      const batches = Array.from(
        { length: Math.ceil(texts.length / embeddingBatchSize) },
        (_, i) => texts.slice(i * embeddingBatchSize, (i + 1) * embeddingBatchSize)
      )
      return Effect.forEach(batches, (batch) => embedBatch(space, batch)).pipe(
        Effect.map((answered) => answered.flat()),
        Effect.withSpan("OpenAiProvider.embed", {
          attributes: { "llm.model": space.model, "llm.texts": texts.length, "server.address": server }
        })
      )
    }

    return {
      name,
      embedding,
      complete,
      embed
    } satisfies LlmProvider
  })

/** A strict answer writes null for an optional property it leaves out; the task's Schema wants it absent. */
const restoreNulls = (request: CompletionRequest, content: string) => {
  try {
    return JSON.stringify(restoreAbsent(request.outputSchema, JSON.parse(content)))
  } catch {
    // Not JSON: the Llm says so, and asks for a repair.
    return content
  }
}
