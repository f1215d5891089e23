/**
 * A local HTTP server speaking the OpenAI wire format, for tests of the OpenAI-compatible
 * provider through the real `openai` SDK (never a mocked SDK). It answers
 * `POST …/chat/completions` and `POST …/embeddings` from a script — each call the next
 * answer written for its endpoint — and records every request, so a test can assert on the
 * path, the headers and the JSON body the SDK sent.
 *
 *   it.scoped("asks with strict json_schema", () =>
 *     Effect.gen(function*() {
 *       const server = yield* OpenAiWireServer.make({ chat: [OpenAiWireServer.chat(JSON.stringify(answer))] })
 *       const provider = yield* OpenAiProvider.make({ ...settings, baseUrl: server.baseUrl })
 *       …
 *       const [request] = yield* server.requests // { method, path, headers, body }
 *     }))
 *
 * An answer is a reply (`chat`, `embeddings`, `error`, `stall`) or a function of the request
 * giving one (`embeddingsOfSize` answers as many vectors as were asked for). A call the
 * script has no answer for gets a 400 naming it, so a test never passes on an answer nobody
 * wrote. `stall` never answers: the request hangs until the client gives up or the server
 * closes with its scope.
 */
import { Effect, type Scope } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface RecordedRequest {
  readonly method: string
  /** As received, e.g. `/v1/chat/completions`. */
  readonly path: string
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  /** The JSON body, parsed (the raw text if it was not JSON). */
  readonly body: unknown
}

export type Reply =
  | {
    readonly _tag: "Json"
    readonly status: number
    readonly body: unknown
    readonly headers: Readonly<Record<string, string>>
  }
  | { readonly _tag: "Stall" }

export type Answer = Reply | ((request: RecordedRequest) => Reply)

export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
}

/** A chat completion whose message is `content`, with `usage` (null: a server that reports none). */
export const chat = (
  content: string | null,
  options: { readonly model?: string; readonly usage?: Usage | null; readonly refusal?: string } = {}
): Reply => {
  const usage = options.usage === undefined ? { inputTokens: 12, outputTokens: 34 } : options.usage
  return {
    _tag: "Json",
    status: 200,
    headers: {},
    body: {
      id: "chatcmpl-wire-1",
      object: "chat.completion",
      created: 1_700_000_000,
      model: options.model ?? "wire-model",
      choices: [{
        index: 0,
        message: { role: "assistant", content, refusal: options.refusal ?? null },
        logprobs: null,
        finish_reason: "stop"
      }],
      ...(usage === null ? {} : {
        usage: {
          prompt_tokens: usage.inputTokens,
          completion_tokens: usage.outputTokens,
          total_tokens: usage.inputTokens + usage.outputTokens
        }
      })
    }
  }
}

/** An embeddings answer with these vectors; `reversed` lists them last first, as a client must cope with. */
export const embeddings = (
  vectors: ReadonlyArray<ReadonlyArray<number>>,
  options: { readonly model?: string; readonly inputTokens?: number; readonly reversed?: boolean } = {}
): Reply => {
  const data = vectors.map((embedding, index) => ({ object: "embedding", index, embedding }))
  return {
    _tag: "Json",
    status: 200,
    headers: {},
    body: {
      object: "list",
      data: options.reversed === true ? data.reverse() : data,
      model: options.model ?? "wire-embedding",
      usage: { prompt_tokens: options.inputTokens ?? 8, total_tokens: options.inputTokens ?? 8 }
    }
  }
}

/** The inputs of an embeddings request (one string, or a list of them). */
export const embeddingInputs = (request: RecordedRequest): ReadonlyArray<string> => {
  const input = typeof request.body === "object" && request.body !== null && "input" in request.body
    ? request.body.input
    : undefined
  if (typeof input === "string") return [input]
  return Array.isArray(input) ? input.filter((item): item is string => typeof item === "string") : []
}

/** One vector of `dimensions` per input, deterministic in the input's text, listed last first on the wire. */
export const embeddingsOfSize = (dimensions: number) => (request: RecordedRequest): Reply =>
  embeddings(
    embeddingInputs(request).map((text) => Array.from({ length: dimensions }, (_, i) => ((text.length + i) % 7) / 7)),
    { reversed: true }
  )

/** An error in OpenAI's shape: `{ error: { message, type, param, code } }`. */
export const error = (
  status: number,
  message: string,
  options: { readonly headers?: Readonly<Record<string, string>>; readonly param?: string; readonly code?: string } = {}
): Reply => ({
  _tag: "Json",
  status,
  headers: options.headers ?? {},
  body: {
    error: {
      message,
      type: status === 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : "invalid_request_error",
      param: options.param ?? null,
      code: options.code ?? null
    }
  }
})

/** Never answers. */
export const stall: Reply = { _tag: "Stall" }

export interface Script {
  readonly chat?: ReadonlyArray<Answer>
  readonly embeddings?: ReadonlyArray<Answer>
}

export interface OpenAiWireServer {
  /** The SDK's `baseURL`: `http://127.0.0.1:<port>/v1`. */
  readonly baseUrl: string
  /** Every request so far, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** Waits (in real time, not on the test's clock) until `count` requests have arrived. */
  readonly received: (count: number) => Effect.Effect<ReadonlyArray<RecordedRequest>>
}

const endpoints = [
  { name: "chat", suffix: "/chat/completions" },
  { name: "embeddings", suffix: "/embeddings" }
] as const

const readBody = (request: Http.IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** The server, listening on a free port of 127.0.0.1 until the scope closes. */
export const make = (script: Script): Effect.Effect<OpenAiWireServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const recorded: Array<RecordedRequest> = []
    const waiters = new Set<() => void>()
    const calls = { chat: 0, embeddings: 0 }

    const reply = (response: Http.ServerResponse, answer: Reply) => {
      if (answer._tag === "Stall") return
      response.writeHead(answer.status, { "content-type": "application/json", ...answer.headers })
      response.end(JSON.stringify(answer.body))
    }

    const handle = async (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      const text = await readBody(request)
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : value ?? ""])
      )
      const path = request.url ?? "/"
      const entry: RecordedRequest = { method: request.method ?? "GET", path, headers, body: parseJson(text) }
      recorded.push(entry)
      for (const wake of waiters) wake()

      const endpoint = endpoints.find(({ suffix }) => path.split("?")[0]!.endsWith(suffix))
      if (request.method !== "POST" || endpoint === undefined) {
        return reply(response, error(404, `OpenAiWireServer: no such endpoint ${request.method} ${path}`))
      }
      const call = calls[endpoint.name]++
      const answer = script[endpoint.name]?.[call]
      if (answer === undefined) {
        return reply(
          response,
          error(400, `OpenAiWireServer: the script has no answer for call ${call + 1} of ${endpoint.suffix}`)
        )
      }
      reply(response, typeof answer === "function" ? answer(entry) : answer)
    }

    const server = yield* Effect.acquireRelease(
      Effect.async<Http.Server>((resume) => {
        const server = Http.createServer((request, response) => {
          handle(request, response).catch((cause: unknown) => {
            response.writeHead(500).end(String(cause))
          })
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          // Stalled requests hold their connections open; closing them lets the server stop.
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const { port } = server.address() as AddressInfo

    const received = (count: number) =>
      Effect.async<ReadonlyArray<RecordedRequest>>((resume) => {
        const check = () => {
          if (recorded.length < count) return
          waiters.delete(check)
          resume(Effect.succeed([...recorded]))
        }
        waiters.add(check)
        check()
        return Effect.sync(() => waiters.delete(check))
      })

    return {
      baseUrl: `http://127.0.0.1:${port}/v1`,
      requests: Effect.sync(() => [...recorded]),
      received
    } satisfies OpenAiWireServer
  })
