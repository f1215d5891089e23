/**
 * The AI settings over HTTP, on the real API, database, job queue and worker: admins only;
 * bad settings refused naming the field; the API key stored encrypted and never answered nor
 * logged; and a change taking effect without a restart — in this process's worker at its next
 * triage, and in another instance on the same database as soon as it is announced.
 */
import { expect, layer } from "@effect/vitest"
import * as OpenAiWireServer from "@nestfleet/ai/testing/OpenAiWireServer"
import { AiSettings, settingsCacheTimeToLive } from "@nestfleet/core/AiSettings"
import { SecretCipher } from "@nestfleet/core/SecretCipher"
import * as Database from "@nestfleet/db/Database"
import type * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Context, Duration, Effect, Layer, Redacted, Schedule } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import { channelOf, deliver } from "./IntakeFlows.js"
import * as LogCapture from "./LogCapture.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const config = { LOG_LEVEL: "trace" }
const logs = LogCapture.make()

const serverLayer = TestServer.layer(undefined, { withWorker: true, config }).pipe(
  Layer.provide(logs.layer),
  Layer.provide(TestServer.config(config))
)

const path = "/api/v1/settings/ai"

/** Keys given in these tests: none may show in a response or a log line. */
const keys = {
  first: "sk-first-key-never-shown-0123456789",
  second: "sk-second-key-never-shown-9876543210",
  refused: "sk-refused-key-never-shown-5555555555",
  wire: "sk-wire-key-never-shown-4242424242"
}

const responses: Array<{ readonly status: number; readonly headers: Headers; readonly body: unknown }> = []
const seen = <A extends { readonly status: number; readonly headers: Headers; readonly body: unknown }>(response: A) => {
  responses.push(response)
  return response
}

const adminToken = Effect.map(AuthFlows.signIn(TestServer.admin), (signedIn) => signedIn.accessToken)

const settingsCall = (token: string, method: "GET" | "PUT" | "DELETE", body?: unknown) =>
  Effect.map(AuthFlows.call(token, path, { method, ...(body === undefined ? {} : { body }) }), seen)

const query = <Row = Record<string, unknown>>(text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.flatMap(Database.Database, ({ pool }) =>
    Effect.promise(() => pool.query(text, [...values]).then((result) => result.rows as Array<Row>)))

const openAi = (overrides: Record<string, unknown> = {}) => ({
  provider: "openai",
  baseUrl: "http://127.0.0.1:9/v1",
  models: { fast: "small-model", standard: "medium-model", complex: "large-model" },
  embeddingModel: "embedder",
  embeddingDimensions: 8,
  ...overrides
})

interface View {
  readonly provider: string
  readonly baseUrl: string | null
  readonly apiKeySet: boolean
  readonly source: string
  readonly updatedAt: string | null
  readonly updatedBy: string | null
}

const triageAnswer = JSON.stringify({
  type: "bug",
  severity: "high",
  confidence: 0.93,
  summary: "Export crashes",
  reasoning: [{ step: "Type", detail: "A crash on export", evidence: ["crashes"] }]
})

layer(serverLayer, { excludeTestServices: true, timeout: 120_000 })("AI settings", (it) => {
  it.effect("admins only; with nothing set, the environment's settings are answered", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      yield* AuthFlows.createUser(token, { email: "ai-agent@nestfleet.test", password: "agent-password-1", roles: ["agent"] })
      yield* AuthFlows.createUser(token, { email: "ai-viewer@nestfleet.test", password: "viewer-password-1", roles: ["viewer"] })
      for (const email of ["ai-agent@nestfleet.test", "ai-viewer@nestfleet.test"]) {
        const password = email.startsWith("ai-agent") ? "agent-password-1" : "viewer-password-1"
        const other = (yield* AuthFlows.signIn({ email, password })).accessToken
        expect((yield* settingsCall(other, "GET")).status).toBe(403)
        expect((yield* settingsCall(other, "PUT", openAi({ apiKey: keys.refused }))).status).toBe(403)
        expect((yield* settingsCall(other, "DELETE")).status).toBe(403)
      }
      expect(seen(yield* TestServer.request(path)).status).toBe(401)

      const got = yield* settingsCall(token, "GET")
      expect(got.status).toBe(200)
      expect(got.body).toEqual({
        provider: "builtin",
        baseUrl: null,
        models: null,
        embeddingModel: expect.any(String),
        embeddingDimensions: expect.any(Number),
        timeoutSeconds: null,
        apiKeySet: false,
        source: "environment",
        updatedAt: null,
        updatedBy: null
      })
      expect((yield* query("select 1 from ai_settings")).length).toBe(0)
    }))

  it.effect("bad settings are refused with a 400 naming the field, never quoting the key; nothing is stored", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      const refused: ReadonlyArray<[unknown, string]> = [
        [{ provider: "gpt" }, "provider"],
        [{ provider: "openai" }, "baseUrl"],
        [openAi({ baseUrl: "ftp://models.example.com/v1" }), "baseUrl"],
        [openAi({ baseUrl: "not a url" }), "baseUrl"],
        [openAi({ baseUrl: `http://user:${keys.refused}@models.example.com/v1` }), "baseUrl"],
        [openAi({ models: { standard: "" } }), "models.standard"],
        [openAi({ models: {} }), "models.standard"],
        [openAi({ embeddingModel: "  " }), "embeddingModel"],
        [openAi({ embeddingDimensions: 2001 }), "embeddingDimensions"],
        [openAi({ embeddingDimensions: 0 }), "embeddingDimensions"],
        [openAi({ embeddingDimensions: 1.5 }), "embeddingDimensions"],
        [openAi({ timeoutSeconds: 0 }), "timeoutSeconds"],
        [openAi({ timeoutSeconds: 3601 }), "timeoutSeconds"],
        [openAi({ apiKey: "   " }), "apiKey"],
        [openAi({ apiKey: `${keys.refused}\r\nX-Injected: 1` }), "apiKey"],
        [openAi({ apiKey: 42 }), "apiKey"],
        [openAi({ apiKey: keys.refused.repeat(200) }), "apiKey"],
        // Well-formed, but cannot work: the service's checks.
        [openAi({ embeddingDimensions: undefined, embeddingModel: "my-own-embedder", apiKey: keys.refused }), "embeddingDimensions"],
        [openAi({ embeddingDimensions: undefined, embeddingModel: "text-embedding-3-large", apiKey: keys.refused }), "embeddingDimensions"],
        [openAi({ baseUrl: "https://api.openai.com/v1" }), "apiKey"]
      ]
      for (const [body, field] of refused) {
        const response = yield* settingsCall(token, "PUT", body)
        const text = JSON.stringify(response.body)
        expect([response.status, field, text.includes(field)]).toEqual([400, field, true])
        expect(text).not.toContain(keys.refused)
      }
      expect((yield* query("select 1 from ai_settings")).length).toBe(0)

      // text-embedding-3-small's size is known: no embeddingDimensions needed.
      const known = yield* settingsCall(token, "PUT", openAi({ embeddingModel: "text-embedding-3-small", embeddingDimensions: undefined }))
      expect(known.status).toBe(200)
      expect(known.body).toMatchObject({ embeddingDimensions: 1536, timeoutSeconds: 60 })
      expect((yield* settingsCall(token, "DELETE")).status).toBe(200)
    }))

  it.effect("the key is stored encrypted and never answered; absent keeps it, a new server needs it again, null removes it", () =>
    Effect.gen(function*() {
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const token = signedIn.accessToken
      const put = yield* settingsCall(token, "PUT", openAi({ apiKey: keys.first, timeoutSeconds: 12.5 }))
      expect(put.status).toBe(200)
      const view = put.body as View
      expect(put.body).toEqual({
        provider: "openai",
        baseUrl: "http://127.0.0.1:9/v1",
        models: { fast: "small-model", standard: "medium-model", complex: "large-model" },
        embeddingModel: "embedder",
        embeddingDimensions: 8,
        timeoutSeconds: 12.5,
        apiKeySet: true,
        source: "database",
        updatedAt: expect.any(String),
        updatedBy: signedIn.userId
      })
      expect((yield* settingsCall(token, "GET")).body).toEqual(view)
      const [stored] = yield* query<{ api_key_encrypted: string; updated_by: string }>("select * from ai_settings")
      expect(stored!.api_key_encrypted.startsWith("nfs1.")).toBe(true)
      expect(stored!.api_key_encrypted).not.toContain(keys.first)
      const cipher = SecretCipher.fromKey(Buffer.from(TestServer.encryptionKey, "hex"))
      expect(Redacted.value(yield* cipher.decrypt(stored!.api_key_encrypted))).toBe(keys.first)

      // The same server, other models, no key given: the stored key stays.
      const kept = yield* settingsCall(token, "PUT", openAi({ baseUrl: "http://127.0.0.1:9/v2", models: { standard: "other" } }))
      expect(kept.body).toMatchObject({ apiKeySet: true, models: { fast: "other", standard: "other", complex: "other" } })
      const [keptRow] = yield* query<{ api_key_encrypted: string }>("select api_key_encrypted from ai_settings")
      expect(keptRow!.api_key_encrypted).toBe(stored!.api_key_encrypted)

      // Another server: the key is not sent where it was not given for.
      const elsewhere = yield* settingsCall(token, "PUT", openAi({ baseUrl: "https://models.example.com/v1" }))
      expect(elsewhere.status).toBe(400)
      expect(elsewhere.body).toMatchObject({ _tag: "InvalidAiSettings", field: "apiKey" })
      const moved = yield* settingsCall(token, "PUT", openAi({ baseUrl: "https://models.example.com/v1", apiKey: keys.second }))
      expect(moved.body).toMatchObject({ apiKeySet: true, baseUrl: "https://models.example.com/v1" })

      const removed = yield* settingsCall(token, "PUT", openAi({ baseUrl: "https://models.example.com/v1", apiKey: null }))
      expect(removed.body).toMatchObject({ apiKeySet: false })
      expect((yield* query("select api_key_encrypted from ai_settings"))[0]).toEqual({ api_key_encrypted: null })

      // builtin keeps nothing of the openai settings, the key included.
      yield* settingsCall(token, "PUT", openAi({ baseUrl: "https://models.example.com/v1", apiKey: keys.second }))
      const builtin = yield* settingsCall(token, "PUT", { provider: "builtin" })
      expect(builtin.body).toMatchObject({ provider: "builtin", baseUrl: null, models: null, apiKeySet: false, source: "database" })
      expect((yield* query("select api_key_encrypted from ai_settings"))[0]).toEqual({ api_key_encrypted: null })

      const reset = yield* settingsCall(token, "DELETE")
      expect(reset.body).toMatchObject({ provider: "builtin", source: "environment", updatedAt: null, apiKeySet: false })
      expect((yield* query("select 1 from ai_settings")).length).toBe(0)
      expect((yield* settingsCall(token, "GET")).body).toMatchObject({ source: "environment" })
    }))

  it.scoped("a change applies at the worker's next triage, without a restart: it asks the new server, with its key", () =>
    Effect.gen(function*() {
      const server = yield* OpenAiWireServer.make({
        chat: [OpenAiWireServer.chat(triageAnswer, { model: "small-model" })],
        // The case's embedding for matching, and the new model's space filled in the background.
        embeddings: Array.from({ length: 50 }, () => OpenAiWireServer.embeddingsOfSize(8))
      })
      const { channelId, secret, token } = yield* channelOf("webhook")
      const put = yield* settingsCall(token, "PUT", openAi({ baseUrl: server.baseUrl, apiKey: keys.wire }))
      expect(put.status).toBe(200)

      const sent = yield* deliver(channelId, Signing.standardWebhooks(secret, {
        externalId: "ai-settings-1",
        subject: "Export to CSV crashes",
        body: "When I click export the app crashes. Steps to reproduce: open reports, click export.",
        customer: { email: "ada@example.com" }
      }))
      expect(sent.status).toBe(202)
      const caseId = (sent.body as { caseId: string }).caseId

      const [request] = yield* server.received(1).pipe(Effect.timeout("20 seconds"))
      expect(request).toMatchObject({ method: "POST", path: "/v1/chat/completions", body: { model: "small-model" } })
      expect(request!.headers.authorization).toBe(`Bearer ${keys.wire}`)

      const detail = yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`).pipe(
        Effect.flatMap((response) => {
          const triage = (response.body as { triage: { provider: string; model: string } | null }).triage
          return triage === null ? Effect.fail("not triaged yet") : Effect.succeed(triage)
        }),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("20 seconds")))
      )
      expect(detail).toMatchObject({ provider: "openai", model: "small-model" })
      const calls = yield* query<{ provider: string; model: string; outcome: string }>(
        "select provider, model, outcome from ai_calls where case_id = $1 and step = 'triage'",
        [caseId]
      )
      expect(calls).toEqual([{ provider: "openai", model: "small-model", outcome: "ok" }])

      yield* settingsCall(token, "DELETE")
    }))

  it.scoped("another AiSettings on the same database hears of a change at once, well before it would read again", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      const database = yield* Effect.context<TestDatabase.Services>()
      // A second instance, with a subscription of its own: what another process builds.
      const second = yield* Layer.build(
        AiSettings.Default.pipe(
          Layer.provide(Layer.succeed(SecretCipher, SecretCipher.fromKey(Buffer.from(TestServer.encryptionKey, "hex")))),
          Layer.provide(Layer.succeedContext(database)),
          Layer.provide(TestServer.config())
        )
      )
      const other = Context.get(second, AiSettings)
      expect((yield* other.currentProvider).name).toBe("builtin")

      const within = Duration.seconds(2)
      expect(Duration.greaterThan(settingsCacheTimeToLive, within)).toBe(true)
      const seesProvider = (name: string) =>
        Effect.filterOrFail(
          Effect.map(other.currentProvider, (provider) => provider.name),
          (seenName) => seenName === name,
          (seenName) => `still ${seenName}`
        ).pipe(Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo(within))))

      yield* settingsCall(token, "PUT", openAi({ apiKey: keys.second }))
      yield* seesProvider("openai")
      const current = yield* other.current
      expect(current.settings.provider === "openai" && Redacted.value(current.settings.apiKey!)).toBe(keys.second)
      yield* settingsCall(token, "DELETE")
      yield* seesProvider("builtin")
    }))

  it("no response and no log line carries a key", () => {
    const never = Object.values(keys)
    for (const response of responses) {
      const text = JSON.stringify([response.body, [...response.headers]])
      for (const key of never) expect([text.includes(key), key]).toEqual([false, key])
    }
    const logged = JSON.stringify(logs.lines)
    expect(logged).toContain("AI settings changed") // the capture works
    for (const key of never) expect([logged.includes(key), key]).toEqual([false, key])
  })
})
