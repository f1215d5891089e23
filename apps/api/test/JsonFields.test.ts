/**
 * Every field stored as JSON, fed arbitrary JSON — lone UTF-16 surrogates and NUL characters
 * in keys and values among it — through the real API and the webhooks of all four channel
 * types. PostgreSQL's `jsonb` holds neither, so the rule is applied where a request's JSON is
 * read: a lone surrogate becomes U+FFFD (as a text column gets it anyway), a NUL is refused
 * with a 400. Never a 5xx; what is accepted reads back with U+FFFD in place.
 *
 * The JSON columns (`grep jsonb migrations/*.sql`) and what writes them:
 * - `products.settings`: the products API (components' names, descriptions, path hints);
 * - `channels.config`: the channels API, on creation and on change;
 * - `cases.customer`, `messages.author`: a delivery's customer — the generic webhook's
 *   `customer.*`, an email's `from`, GitHub's `issue.user.login`, Slack's `event.user`;
 * - `messages.metadata`: the generic webhook's `metadata`, an email's `to`, GitHub's
 *   repository, Slack's channel;
 * - `case_events.data`: written by the server, with a delivery's values in places (who
 *   reopened a GitHub issue: `by`), so covered through the reopening;
 * - `triage_results.reasoning`: written by the server from a message's text, which has been
 *   through the same edge (the worker does not run here).
 */
import { expect, layer } from "@effect/vitest"
import * as Database from "@nestfleet/db/Database"
import { Effect, Runtime } from "effect"
import fc from "fast-check"
import * as AuthFlows from "./AuthFlows.js"
import { channelOf, deliver } from "./IntakeFlows.js"
import { awkwardObject, awkwardText, holdsLoneSurrogate, holdsNul, kept } from "./JsonArbitraries.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const runs = 40

const sql = (text: string, values: ReadonlyArray<unknown>) =>
  Effect.flatMap(Database.Database, ({ pool }) =>
    Effect.promise(() => pool.query(text, [...values]).then((result) => result.rows as Array<Record<string, unknown>>)))

/** Asserts `check` for `runs` values of `arbitrary`, each check an Effect run on the test's runtime. */
const runProperty = <A, R>(arbitrary: fc.Arbitrary<A>, check: (value: A) => Effect.Effect<void, never, R>) =>
  Effect.flatMap(Effect.runtime<R>(), (runtime) =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(arbitrary, (value) => Runtime.runPromise(runtime)(check(value))), { numRuns: runs })
    ))

let unique = 0

/** How many values of a property were refused for a NUL, and accepted with a lone surrogate. */
const tally = { refusedNul: 0, acceptedLoneSurrogate: 0 }

/** Never a 5xx; a NUL anywhere in what was sent is a 400; otherwise `accepted`. */
const expectAnswer = (response: { readonly status: number; readonly body: unknown }, sent: unknown, accepted: number) => {
  expect(response.status).toBeLessThan(500)
  if (holdsNul(sent)) {
    expect([response.status, response.body]).toEqual([400, expect.objectContaining({ message: expect.stringMatching(/NUL/) })])
    tally.refusedNul++
  } else {
    expect([response.status, response.body]).toEqual([accepted, expect.anything()])
    if (holdsLoneSurrogate(sent)) tally.acceptedLoneSurrogate++
  }
  return response.status === accepted
}

/** Runs a property, then checks it saw both kinds of value: not a vacuous pass. */
const property = <A, R>(arbitrary: fc.Arbitrary<A>, check: (value: A) => Effect.Effect<void, never, R>) =>
  Effect.gen(function*() {
    tally.refusedNul = 0
    tally.acceptedLoneSurrogate = 0
    yield* runProperty(arbitrary, check)
    expect(tally.refusedNul).toBeGreaterThan(0)
    expect(tally.acceptedLoneSurrogate).toBeGreaterThan(0)
  })

const caseOf = (token: string, caseId: string) =>
  Effect.map(AuthFlows.call(token, `/api/v1/cases/${caseId}`), (response) =>
    response.body as {
      readonly case: { readonly customer: unknown; readonly status: string }
      readonly messages: ReadonlyArray<{ readonly id: string; readonly author: unknown }>
      readonly timeline: ReadonlyArray<{ readonly kind: string; readonly data: Record<string, unknown> }>
    })

const metadataOf = (messageId: string) =>
  Effect.map(sql("select metadata from messages where id = $1", [messageId]), (rows) => rows[0]?.metadata)

/** A string the Schema takes as it is (not blank where it trims, not over its length). */
const fitting = (text: string) => text.trim() !== ""

layer(TestServer.layer(), { excludeTestServices: true, timeout: 300_000 })("fields stored as JSON", (it) => {
  it.effect("products.settings: component names, descriptions and path hints", () =>
    Effect.gen(function*() {
      const { token } = yield* channelOf("webhook")
      const component = fc.record({ name: awkwardText.filter(fitting), description: awkwardText, hint: awkwardText })
      yield* property(fc.record({ component, ignored: awkwardObject }), ({ component, ignored }) =>
        Effect.gen(function*() {
          const n = ++unique
          const sent = { name: component.name, description: component.description, pathHints: [component.hint] }
          const created = yield* AuthFlows.call(token, "/api/v1/products", {
            method: "POST",
            // A field the Schema does not know is dropped, whatever it holds.
            body: { name: `Settings ${n}`, slug: `settings-${n}`, settings: { components: [sent], ignored } }
          })
          if (!expectAnswer(created, sent, 201)) return
          const read = yield* AuthFlows.call(token, `/api/v1/products/${(created.body as { id: string }).id}`)
          const expected = kept(sent) as typeof sent
          expect((read.body as { settings: { components: unknown } }).settings.components).toEqual([
            { ...expected, name: expected.name.trim() }
          ])
        }))
    }))

  it.effect("channels.config, on creation and on change", () =>
    Effect.gen(function*() {
      const { productId, token } = yield* channelOf("webhook")
      const configOf = (channelId: string) =>
        Effect.map(AuthFlows.call(token, `/api/v1/products/${productId}/channels`), (response) =>
          (response.body as { items: ReadonlyArray<{ id: string; config: unknown }> }).items.find((channel) =>
            channel.id === channelId
          )?.config)
      yield* property(fc.tuple(awkwardObject, awkwardObject), ([first, second]) =>
        Effect.gen(function*() {
          const created = yield* AuthFlows.call(token, `/api/v1/products/${productId}/channels`, {
            method: "POST",
            body: { type: "webhook", name: `Config ${++unique}`, config: first }
          })
          if (!expectAnswer(created, first, 201)) return
          const channelId = (created.body as { channel: { id: string } }).channel.id
          expect(yield* configOf(channelId)).toEqual(kept(first))
          const changed = yield* AuthFlows.call(token, `/api/v1/channels/${channelId}`, {
            method: "PATCH",
            body: { config: second }
          })
          if (!expectAnswer(changed, second, 200)) return
          expect(yield* configOf(channelId)).toEqual(kept(second))
        }))
    }))

  it.effect("generic webhook: customer.* and metadata, keys and values", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("webhook")
      const customer = fc.record({ email: awkwardText, name: awkwardText, handle: awkwardText }, { requiredKeys: [] })
      const payload = fc.record({ customer, metadata: awkwardObject, subject: awkwardText.filter(fitting) })
      yield* property(payload, ({ customer, metadata, subject }) =>
        Effect.gen(function*() {
          const sent = { externalId: `json-${++unique}`, subject, body: "Body", customer, metadata }
          const response = yield* deliver(channelId, Signing.standardWebhooks(secret, sent))
          if (!expectAnswer(response, sent, 202)) return
          const { caseId, messageId } = response.body as { caseId: string; messageId: string }
          const detail = yield* caseOf(token, caseId)
          expect(detail.case.customer).toEqual(kept(customer))
          expect(detail.messages[0]?.author).toEqual(kept(customer))
          expect(yield* metadataOf(messageId)).toEqual(kept(metadata))
        }))
    }))

  it.effect("inbound email: from and to", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("email")
      const to = fc.oneof(awkwardText, fc.array(awkwardText, { maxLength: 3 }))
      const payload = fc.record({ email: awkwardText.filter(fitting), name: awkwardText, to })
      yield* property(payload, ({ email, name, to }) =>
        Effect.gen(function*() {
          const sent = { messageId: `<json-${++unique}@mail.test>`, from: { email, name }, to, subject: "Hi", text: "Text" }
          const response = yield* deliver(channelId, Signing.standardWebhooks(secret, sent))
          if (!expectAnswer(response, sent, 202)) return
          const { caseId, messageId } = response.body as { caseId: string; messageId: string }
          expect((yield* caseOf(token, caseId)).case.customer).toEqual({
            email: (kept(email) as string).trim(),
            name: kept(name)
          })
          expect(yield* metadataOf(messageId)).toEqual({ to: kept(to) })
        }))
    }))

  it.effect("GitHub: issue.user.login and the repository, and who reopened the issue (case_events.data)", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("github")
      const issuesEvent = (action: string, id: number, login: string, repository: string, sender = login) =>
        JSON.stringify({
          action,
          issue: { id, number: id, title: "Crash", body: "It crashes", user: { login } },
          repository: { full_name: repository },
          sender: { login: sender }
        })
      yield* property(fc.record({ login: awkwardText, repository: awkwardText, reopener: awkwardText }), (sent) =>
        Effect.gen(function*() {
          const id = ++unique
          const opened = yield* deliver(channelId, Signing.github(secret, "issues", issuesEvent("opened", id, sent.login, sent.repository)))
          if (!expectAnswer(opened, { login: sent.login, repository: sent.repository }, 202)) return
          const { caseId, messageId } = opened.body as { caseId: string; messageId: string }
          expect((yield* caseOf(token, caseId)).case.customer).toEqual({ handle: kept(sent.login) })
          expect(yield* metadataOf(messageId)).toMatchObject({ repository: kept(sent.repository) })

          yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`, { method: "PATCH", body: { status: "closed" } })
          const reopened = yield* deliver(
            channelId,
            Signing.github(secret, "issues", issuesEvent("reopened", id, sent.login, sent.repository, sent.reopener))
          )
          if (!expectAnswer(reopened, sent.reopener, 200)) return
          const event = (yield* caseOf(token, caseId)).timeline.find((event) => event.kind === "reopened")
          expect(event?.data).toMatchObject({ by: kept(sent.reopener) })
        }))
    }))

  it.effect("Slack: event.user and the channel", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("slack")
      yield* property(fc.record({ user: awkwardText, channel: awkwardText.filter((text) => text !== "") }), (sent) =>
        Effect.gen(function*() {
          const n = ++unique
          const payload = {
            type: "event_callback",
            event_id: `Ev${n}`,
            event: { type: "message", user: sent.user, channel: sent.channel, text: "Help", ts: `1741944500.${n}` }
          }
          const response = yield* deliver(channelId, Signing.slack(secret, payload))
          if (!expectAnswer(response, sent, 202)) return
          const { caseId, messageId } = response.body as { caseId: string; messageId: string }
          expect((yield* caseOf(token, caseId)).case.customer).toEqual({ handle: kept(sent.user) })
          expect(yield* metadataOf(messageId)).toMatchObject({ slackChannel: kept(sent.channel) })
        }))
    }))
})
