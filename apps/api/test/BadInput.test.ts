/**
 * Bad input answers 400, never 500, and the answer names the field and the rule — never
 * the value sent, nor Effect's schema tree. The contract is walked, so every endpoint with
 * a payload is covered the moment it joins; the webhooks endpoint (a raw body, read after
 * its signature) with a valid signature on each bad body.
 */
import { HttpApi } from "@effect/platform"
import { expect, layer } from "@effect/vitest"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { ErrorBody } from "@nestfleet/domain/Errors"
import { Effect, Layer, Runtime, Schema, SchemaAST } from "effect"
import fc from "fast-check"
import * as AuthFlows from "./AuthFlows.js"
import { channelOf, type ChannelType, deliver } from "./IntakeFlows.js"
import * as LogCapture from "./LogCapture.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

interface WithPayload {
  readonly name: string
  readonly method: string
  readonly path: string
  readonly fields: ReadonlyArray<string>
}

/** The payload's fields as a client writes them (the encoded side of the Schema). */
const fieldsOf = (schema: { readonly ast: SchemaAST.AST }) =>
  SchemaAST.getPropertySignatures(SchemaAST.encodedAST(schema.ast)).map((field) => String(field.name))

/** Every endpoint that reads a JSON body (a GET's payload comes from its query). */
const endpointsWithPayload = (): ReadonlyArray<WithPayload> => {
  const found: Array<WithPayload> = []
  HttpApi.reflect(NestFleetApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group }) => {
      if (endpoint.method === "GET" || endpoint.payloadSchema._tag === "None") return
      found.push({
        name: `${group.identifier}.${endpoint.name}`,
        method: endpoint.method,
        path: endpoint.path,
        fields: fieldsOf(endpoint.payloadSchema.value)
      })
    }
  })
  return found
}

/** A concrete URL for a route: every `:param` gets a well-formed id that names nothing. */
const urlOf = (path: string) => path.replace(/:[A-Za-z]+/g, "00000000-0000-4000-8000-000000000000")

/** Bodies that are not JSON, each with what the answer must say about it. */
const malformed: ReadonlyArray<{ readonly body: string | Uint8Array; readonly says: RegExp }> = [
  { body: "{", says: /not valid JSON: Expected property name or '}' in JSON at position 1/ },
  { body: "{\"a\":", says: /not valid JSON: Unexpected end of JSON input/ },
  { body: "{\"password\": hunter2-not-quoted}", says: /not valid JSON: Unexpected character/ },
  { body: "secret-password-text", says: /not valid JSON/ },
  { body: new Uint8Array([0xff, 0xfe, 0x00, 0x9c, 0x41]), says: /not valid JSON/ },
  { body: "", says: /body is empty/ }
]

/** Whatever of a body a 400 could echo: none of these may appear in one. */
const secretsIn = ["hunter2", "secret-password-text", "not-quoted"]

const logs = LogCapture.make()

const serverWithLogs = TestServer.layer().pipe(Layer.provide(logs.layer))

const decodeErrorBody = Schema.decodeUnknownSync(ErrorBody)

type Response = Effect.Effect.Success<ReturnType<typeof TestServer.request>>

/** A 400's body as text, without its request id (random characters that may contain anything). */
const textOf = (body: unknown) => JSON.stringify({ ...(body as object), requestId: undefined })

/** Asserts `check` for values of `arbitrary`, each check an Effect run on the test's runtime. */
const property = <A, R>(arbitrary: fc.Arbitrary<A>, runs: number, check: (value: A) => Effect.Effect<void, never, R>) =>
  Effect.flatMap(Effect.runtime<R>(), (runtime) =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(arbitrary, (value) => Runtime.runPromise(runtime)(check(value))), { numRuns: runs })
    ))

layer(serverWithLogs, { excludeTestServices: true, timeout: 180_000 })("bad input", (it) => {
  const endpoints = endpointsWithPayload()

  it("the walk finds the endpoints with a payload", () => {
    expect(endpoints.map((endpoint) => endpoint.name)).toEqual(
      expect.arrayContaining(["auth.login", "users.create", "products.create", "channels.create", "cases.addNote"])
    )
  })

  it.effect("a body that is not JSON answers 400 naming the problem on every endpoint, and logs no error", () =>
    Effect.gen(function*() {
      const { accessToken } = yield* AuthFlows.signIn(TestServer.admin)
      for (const endpoint of endpoints) {
        for (const { body, says } of malformed) {
          const response = yield* TestServer.request(urlOf(endpoint.path), {
            method: endpoint.method,
            headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
            body
          })
          const what = [endpoint.name, String(body)]
          expect([...what, response.status]).toEqual([...what, 400])
          const error = decodeErrorBody(response.body)
          expect(error).toMatchObject({ _tag: "HttpApiDecodeError", issues: expect.any(Array) })
          expect([...what, error.message]).toEqual([...what, expect.stringMatching(says)])
          for (const secret of secretsIn) expect(textOf(response.body)).not.toContain(secret)
          // Told by the access log at info, without a stack: bad input is the client's.
          const lines = logs.of(error.requestId)
          expect(lines.map((line) => line.level)).toEqual(["info"])
          expect(JSON.stringify(lines)).not.toMatch(/SyntaxError|stack|hunter2/)
        }
      }
    }))

  it.effect("the webhooks endpoint, validly signed, answers 400 naming the problem for a body that is not JSON", () =>
    Effect.gen(function*() {
      const types: ReadonlyArray<ChannelType> = ["webhook", "email", "github", "slack"]
      for (const type of types) {
        const { channelId, secret } = yield* channelOf(type)
        for (const { body } of malformed) {
          const text = typeof body === "string" ? body : Buffer.from(body).toString("latin1")
          const signed = type === "slack"
            ? Signing.slack(secret, text)
            : type === "github"
            ? Signing.github(secret, "issues", text)
            : Signing.standardWebhooks(secret, text)
          // Signed as sent: the bytes that are not UTF-8 go as the characters Latin-1 reads them as.
          const response = yield* deliver(channelId, signed)
          const what = [type, text]
          expect([...what, response.status]).toEqual([...what, 400])
          expect(response.body).toMatchObject({ _tag: "WebhookPayloadInvalid" })
          expect((response.body as { message: string }).message).toMatch(/^The body is not (JSON|UTF-8)/)
          for (const secret of secretsIn) expect(textOf(response.body)).not.toContain(secret)
          expect(logs.of(response.headers.get("x-request-id")).map((line) => line.level)).toEqual(["info"])
        }
      }
    }))

  it.effect("the probe's cases: a 400 names the field and the rule, never the password, body or secret sent", () =>
    Effect.gen(function*() {
      const numeric = yield* AuthFlows.login({ email: "a@example.com", password: 5 as unknown as string })
      expect(numeric.status).toBe(400)
      expect(numeric.body).toMatchObject({
        _tag: "HttpApiDecodeError",
        message: "The request is not valid: password: Expected string",
        issues: [{ path: ["password"], message: "Expected string" }]
      })

      const plain = yield* TestServer.request("/api/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "secret-password-text"
      })
      expect(plain.status).toBe(415)
      expect(plain.body).toMatchObject({ _tag: "UnsupportedMediaType" })
      expect(textOf(plain.body)).not.toContain("secret-password-text")
      // With nothing sent, the type is not refused; the answer says what to send.
      const nothing = yield* TestServer.request("/api/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "text/plain" }
      })
      expect(nothing.status).toBe(400)
      expect(nothing.body).toMatchObject({
        _tag: "HttpApiDecodeError",
        message: "The request body must be JSON, sent with Content-Type: application/json"
      })

      const { productId, token } = yield* channelOf("webhook")
      const create = (secret: unknown) =>
        AuthFlows.call(token, `/api/v1/products/${productId}/channels`, {
          method: "POST",
          body: { type: "webhook", name: "Refused", secret }
        })
      const cases: ReadonlyArray<{ readonly secret: unknown; readonly sent: string }> = [
        // Refused by the service: not a Standard Webhooks key.
        { secret: "my-own-secret-value-123", sent: "my-own-secret-value-123" },
        // Refused by the Schema: too short, not a string, an object holding it.
        { secret: "short-secret", sent: "short-secret" },
        { secret: 31415926535897, sent: "31415926535897" },
        { secret: { value: "nested-secret-value" }, sent: "nested-secret-value" }
      ]
      for (const { secret, sent } of cases) {
        const response = yield* create(secret)
        expect([sent, response.status]).toEqual([sent, 400])
        expect(textOf(response.body)).not.toContain(sent)
        const body = response.body as { issues?: ReadonlyArray<{ path: ReadonlyArray<string> }> }
        if (body.issues !== undefined) expect(body.issues[0]?.path).toEqual(["secret"])
      }
    }))

  it.effect("400s from paths and queries name the parameter, not the value", () =>
    Effect.gen(function*() {
      const { accessToken } = yield* AuthFlows.signIn(TestServer.admin)
      const path = yield* AuthFlows.call(accessToken, "/api/v1/cases/not-a-uuid-but-a-secret")
      expect(path.status).toBe(400)
      expect(path.body).toMatchObject({ issues: [{ path: ["id"], message: "Expected a Universally Unique Identifier" }] })
      expect(textOf(path.body)).not.toContain("not-a-uuid-but-a-secret")
      const query = yield* AuthFlows.call(accessToken, "/api/v1/cases?limit=limit-secret&status=status-secret")
      expect(query.status).toBe(400)
      expect(textOf(query.body)).not.toMatch(/limit-secret|status-secret/)
      expect((query.body as { issues: ReadonlyArray<{ path: ReadonlyArray<string> }> }).issues[0]?.path).toHaveLength(1)
    }))

  it.effect("a body nesting deeper than 64 levels answers 400 naming the limit on every endpoint, login included", () =>
    Effect.gen(function*() {
      const { accessToken } = yield* AuthFlows.signIn(TestServer.admin)
      // Ten kilobytes of brackets once overflowed the call stack formatting the decode error.
      const nested = (field: string, depth: number) => `{"password":"x","${field}":${"[".repeat(depth)}${"]".repeat(depth)}}`
      for (const endpoint of endpoints) {
        for (const depth of [5_000, 100_000]) {
          const response = yield* TestServer.request(urlOf(endpoint.path), {
            method: endpoint.method,
            headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
            body: nested(endpoint.fields[0] ?? "a", depth)
          })
          const what = [endpoint.name, depth]
          expect([...what, response.status]).toEqual([...what, 400])
          const error = decodeErrorBody(response.body)
          expect([...what, error]).toEqual([...what, expect.objectContaining({
            _tag: "HttpApiDecodeError",
            message: "The request body nests deeper than 64 levels",
            issues: []
          })])
          expect([...what, logs.of(error.requestId).map((line) => line.level)]).toEqual([...what, ["info"]])
        }
      }
      // The limit counts the body itself: an array 63 deep in its object is 64 levels, and read.
      const login = (depth: number) =>
        TestServer.request("/api/v1/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: nested("email", depth)
        })
      const atLimit = yield* login(63)
      expect([atLimit.status, (atLimit.body as { message: string }).message]).toEqual([
        400,
        expect.stringMatching(/^The request is not valid: email: Expected string/)
      ])
      const overLimit = yield* login(64)
      expect([overLimit.status, (overLimit.body as { message: string }).message]).toEqual([
        400,
        "The request body nests deeper than 64 levels"
      ])
    }))

  it.effect("a body sent as anything but JSON answers 415 before it is read, on every endpoint, and logs no error", () =>
    Effect.gen(function*() {
      const { accessToken } = yield* AuthFlows.signIn(TestServer.admin)
      const form = new FormData()
      form.set("email", TestServer.admin.email)
      form.set("password", TestServer.admin.password)
      // What a page on another site can send without a preflight, and what HttpApi died on.
      const bodies: ReadonlyArray<
        { readonly kind: string; readonly body: string | FormData | URLSearchParams; readonly type?: string }
      > = [
        { kind: "multipart without a boundary", body: "xx", type: "multipart/form-data" },
        { kind: "multipart missing its boundary", body: "xx", type: "multipart/form-data; boundary=x" },
        { kind: "a well-formed multipart login", body: form },
        { kind: "a form login", body: new URLSearchParams(TestServer.admin) },
        { kind: "a text/plain login", body: JSON.stringify(TestServer.admin), type: "text/plain" },
        { kind: "JSON under another name", body: JSON.stringify(TestServer.admin), type: "application/json-patch+json" }
      ]
      const expectRefused = (what: ReadonlyArray<unknown>, response: Response) => {
        expect([...what, response.status]).toEqual([...what, 415])
        const error = decodeErrorBody(response.body)
        expect([...what, error]).toEqual([...what, {
          _tag: "UnsupportedMediaType",
          message: "Send the body as JSON with Content-Type: application/json",
          requestId: response.headers.get("x-request-id")
        }])
        expect([...what, logs.of(error.requestId).map((line) => line.level)]).toEqual([...what, ["info"]])
        expect(response.headers.getSetCookie()).toEqual([])
      }
      for (const { body, kind, type } of bodies) {
        expectRefused([kind], yield* TestServer.request("/api/v1/auth/login", {
          method: "POST",
          headers: type === undefined ? {} : { "content-type": type },
          body
        }))
      }
      for (const endpoint of endpoints) {
        expectRefused([endpoint.name], yield* TestServer.request(urlOf(endpoint.path), {
          method: endpoint.method,
          headers: { authorization: `Bearer ${accessToken}`, "content-type": "text/plain" },
          body: "{}"
        }))
      }
      // Streamed without a length, over the body limit: refused on its type, before any of it is read.
      const streamed = yield* TestServer.postChunked("/api/v1/auth/login", {
        head: "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n",
        filler: "x".repeat(64 * 1024),
        atLeastBytes: TestServer.maxBodyBytes,
        tail: "\r\n--x--\r\n"
      }, { "content-type": "multipart/form-data; boundary=x" })
      expect([streamed.status, JSON.parse(streamed.body)]).toEqual([415, expect.objectContaining({ _tag: "UnsupportedMediaType" })])
      expect((yield* TestServer.request("/api/v1/health")).status).toBe(200)
    }))

  it.effect("JSON is read with or without its Content-Type, and with parameters; nothing sent is read as JSON, whatever the type", () =>
    Effect.gen(function*() {
      const bytes = new TextEncoder().encode(JSON.stringify(TestServer.admin))
      // fetch names no type for bytes.
      const untyped = yield* TestServer.request("/api/v1/auth/login", { method: "POST", body: bytes })
      expect(untyped.status).toBe(200)
      const withCharset = yield* TestServer.request("/api/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "Application/JSON; charset=utf-8" },
        body: bytes
      })
      expect(withCharset.status).toBe(200)
      // Nothing sent, whatever the type names, is read as JSON's nothing: HttpApi's multipart
      // reader hung on an empty body, and died (500) on one without a boundary.
      for (const type of ["multipart/form-data; boundary=x", "multipart/form-data", "application/x-www-form-urlencoded"]) {
        const empty = yield* TestServer.request("/api/v1/auth/login", { method: "POST", headers: { "content-type": type } })
          .pipe(Effect.timeout("10 seconds"))
        const error = decodeErrorBody(empty.body)
        expect([type, empty.status, error.message]).toEqual([
          type,
          400,
          "The request body must be JSON, sent with Content-Type: application/json"
        ])
        expect([type, logs.of(error.requestId).map((line) => line.level)]).toEqual([type, ["info"]])
      }
    }))

  it.effect("a webhook delivery is refused 415 when sent as anything but JSON, and read when sent without a type", () =>
    Effect.gen(function*() {
      const { channelId, secret } = yield* channelOf("webhook")
      const signed = Signing.standardWebhooks(secret, {
        externalId: "typed-1",
        subject: "Typed",
        body: "Sent as text",
        customer: { email: "ada@example.com" }
      })
      const asText = yield* deliver(channelId, { ...signed, headers: { ...signed.headers, "content-type": "text/plain" } })
      expect([asText.status, asText.body]).toEqual([415, expect.objectContaining({ _tag: "UnsupportedMediaType" })])
      const { "content-type": _, ...untypedHeaders } = signed.headers
      const untyped = yield* TestServer.request(`/api/v1/webhooks/${channelId}`, {
        method: "POST",
        headers: untypedHeaders,
        body: new TextEncoder().encode(signed.body)
      })
      expect(untyped.status).toBe(202)
    }))

  it.effect("a JSON document of a few hundred thousand items answers 400, not 500 (measuring its depth overflowed)", () =>
    Effect.gen(function*() {
      const { channelId, productId, secret, token } = yield* channelOf("webhook")
      const wide = { items: Array.from({ length: 250_000 }, () => 0) }
      const config = yield* AuthFlows.call(token, `/api/v1/products/${productId}/channels`, {
        method: "POST",
        body: { type: "webhook", name: "Wide", config: wide }
      })
      expect([config.status, config.body]).toEqual([400, expect.objectContaining({ message: expect.stringMatching(/config/) })])
      const metadata = yield* deliver(
        channelId,
        Signing.standardWebhooks(secret, { externalId: "wide-1", subject: "Wide", body: "Wide", customer: {}, metadata: wide })
      )
      expect([metadata.status, metadata.body]).toEqual([400, expect.objectContaining({ message: expect.stringMatching(/metadata/) })])
    }))

  it.effect("no 400 carries Effect's schema tree", () =>
    Effect.gen(function*() {
      const response = yield* AuthFlows.login({ email: 42 as unknown as string, password: "x" })
      expect(response.status).toBe(400)
      expect(textOf(response.body)).not.toMatch(/└─|Encoded side|Type side|actual/)
    }))

  it.effect("property: for any value in any field of any payload, no 400 contains the value sent", () =>
    Effect.gen(function*() {
      const { accessToken } = yield* AuthFlows.signIn(TestServer.admin)
      // A marker makes a value recognisable wherever it lands; numbers are long enough not to
      // appear by chance.
      const marked = fc.string({ maxLength: 12 }).map((text) => `sent-${text}-value`)
      const value = fc.oneof(
        marked,
        fc.integer({ min: 1_000_000_007, max: 2_000_000_000 }),
        fc.array(marked, { minLength: 1, maxLength: 3 }),
        fc.dictionary(fc.constantFrom("a", "value", "email"), marked, { minKeys: 1 })
      )
      const sentValues = (sent: unknown): ReadonlyArray<string> =>
        typeof sent === "string"
          ? [sent, JSON.stringify(sent).slice(1, -1)]
          : typeof sent === "number"
          ? [String(sent)]
          : Object.values(sent as object).flatMap(sentValues)
      let namedAField = 0
      const request = fc.record({
        endpoint: fc.constantFrom(...endpoints.filter((endpoint) => endpoint.fields.length > 0)),
        values: fc.array(value, { minLength: 1, maxLength: 4 }),
        seed: fc.nat()
      })
      yield* property(request, 150, ({ endpoint, seed, values }) =>
        Effect.gen(function*() {
          // Some of the endpoint's fields, from a random one on, each with one of the values.
          const start = seed % endpoint.fields.length
          const fields = [...endpoint.fields.slice(start), ...endpoint.fields.slice(0, start)].slice(0, values.length)
          const body = Object.fromEntries(fields.map((field, index) => [field, values[index]]))
          const response = yield* AuthFlows.call(accessToken, urlOf(endpoint.path), { method: endpoint.method, body })
          expect(response.status).toBeLessThan(500)
          if (response.status !== 400) return
          const text = textOf(response.body)
          const echoed = values.flatMap(sentValues).filter((sent) => text.includes(sent))
          expect({ endpoint: endpoint.name, echoed, text }).toMatchObject({ echoed: [] })
          expect({ endpoint: endpoint.name, text }).toMatchObject({ text: expect.not.stringMatching(/└─|actual/) })
          const issues = (response.body as { issues?: ReadonlyArray<{ path: ReadonlyArray<unknown> }> }).issues ?? []
          if (issues.some((issue) => fields.includes(String(issue.path[0])))) namedAField++
        }))
      // Not vacuous: many of those 400s were about a value sent, and named its field.
      expect(namedAField).toBeGreaterThan(30)
    }))
})
