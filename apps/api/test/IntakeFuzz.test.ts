/**
 * Whatever arrives at a webhook — random bytes, near-miss payloads, broken signatures — the
 * answer is a 2xx or a 4xx, never a 5xx, and a rejected delivery writes nothing. And when
 * the ingestion's transaction fails halfway (here: the triage job cannot be enqueued),
 * nothing of the delivery is left behind.
 */
import { expect, layer } from "@effect/vitest"
import * as Database from "@nestfleet/db/Database"
import { JobCatalogue } from "@nestfleet/jobs/Catalogue"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import { channelOf, deliver } from "./IntakeFlows.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const rowsOf = (table: "cases" | "messages" | "deliveries") =>
  Effect.flatMap(Database.Database, ({ pool }) =>
    Effect.promise(() => pool.query(`select count(*)::int as n from ${table}`).then((result) => result.rows[0].n as number)))

/** JSON values shaped like the payloads, with fields missing, mistyped or oversized. */
const nearMiss = fc.oneof(
  fc.json(),
  fc.record({
    externalId: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    subject: fc.oneof(fc.string(), fc.constant(""), fc.string({ minLength: 290, maxLength: 400 })),
    body: fc.oneof(fc.string(), fc.array(fc.string())),
    customer: fc.oneof(fc.constant({}), fc.object(), fc.string())
  }, { requiredKeys: [] }),
  fc.record({
    messageId: fc.oneof(fc.string(), fc.constant(null)),
    inReplyTo: fc.oneof(fc.string(), fc.integer()),
    references: fc.oneof(fc.string(), fc.array(fc.string())),
    from: fc.oneof(fc.record({ email: fc.string() }), fc.string()),
    to: fc.string(),
    subject: fc.string(),
    text: fc.oneof(fc.string(), fc.integer())
  }, { requiredKeys: [] }),
  fc.record({
    type: fc.constantFrom("event_callback", "url_verification", "app_rate_limited"),
    event_id: fc.string(),
    challenge: fc.oneof(fc.string(), fc.integer()),
    event: fc.oneof(fc.object(), fc.record({ type: fc.constant("message"), text: fc.string(), ts: fc.string() }))
  }, { requiredKeys: [] })
).map((value) => JSON.stringify(value) ?? "null")

const runs = 60

layer(TestServer.layer(), { excludeTestServices: true, timeout: 180_000 })("webhook fuzzing", (it) => {
  it.effect("validly signed near-miss and random bodies never answer 5xx, and the rejected ones write nothing", () =>
    Effect.gen(function*() {
      const channels = yield* Effect.all([
        channelOf("webhook"),
        channelOf("email"),
        channelOf("slack")
      ])
      const [webhook, email, slack] = channels
      const samples = fc.sample(fc.tuple(fc.nat({ max: 2 }), fc.oneof(nearMiss, fc.string())), runs)
      for (const [which, body] of samples) {
        const before = yield* rowsOf("deliveries")
        const target = which === 0 ? webhook : which === 1 ? email : slack
        const signed = which === 2 ? Signing.slack(target.secret, body) : Signing.standardWebhooks(target.secret, body)
        const response = yield* deliver(target.channelId, signed)
        expect([body, response.status < 500]).toEqual([body, true])
        if (response.status >= 400) expect([body, yield* rowsOf("deliveries")]).toEqual([body, before])
      }
    }))

  it.effect("random headers and bytes never answer 5xx", () =>
    Effect.gen(function*() {
      const github = yield* channelOf("github")
      const samples = fc.sample(
        fc.record({
          headers: fc.dictionary(
            fc.constantFrom(
              "x-github-event",
              "x-github-delivery",
              "x-hub-signature-256",
              "webhook-id",
              "webhook-timestamp",
              "webhook-signature",
              "content-type"
            ),
            fc.string({ maxLength: 80 }).filter((value) => /^[\x20-\x7e]*$/.test(value))
          ),
          body: fc.uint8Array({ maxLength: 2048 })
        }),
        runs
      )
      for (const { body, headers } of samples) {
        const response = yield* TestServer.request(`/api/v1/webhooks/${github.channelId}`, {
          method: "POST",
          headers,
          body
        })
        expect(response.status).toBeLessThan(500)
        expect(response.status).toBeGreaterThanOrEqual(400)
      }
      // Signed correctly but with random event names and JSON: still never a 5xx.
      const events = fc.sample(fc.tuple(fc.constantFrom("issues", "issue_comment", "ping", "push", "x"), nearMiss), runs)
      for (const [event, body] of events) {
        const response = yield* TestServer.request(`/api/v1/webhooks/${github.channelId}`, {
          method: "POST",
          ...Signing.github(github.secret, event, body)
        })
        expect([event, body, response.status < 500]).toEqual([event, body, true])
      }
    }))
})

// The job queue here knows no jobs, so enqueueing the case's triage fails inside the
// ingestion's transaction, after the delivery, case, message and event were written.
const withoutJobs = TestServer.layer().pipe(Layer.provide(Layer.succeed(JobCatalogue, [])))

layer(withoutJobs, { excludeTestServices: true, timeout: 120_000 })("a failed ingestion", (it) => {
  it.effect("rolls back: no delivery, case, message or event is left, and the sender may retry", () =>
    Effect.gen(function*() {
      const { channelId, secret } = yield* channelOf("webhook")
      const signed = Signing.standardWebhooks(secret, {
        externalId: "rollback-1",
        subject: "Crash on save",
        body: "It crashes",
        customer: { email: "a@example.com" }
      })
      const response = yield* deliver(channelId, signed)
      expect(response.status).toBe(500)
      expect(response.body).toMatchObject({ _tag: "InternalServerError" })
      expect(yield* rowsOf("deliveries")).toBe(0)
      expect(yield* rowsOf("cases")).toBe(0)
      expect(yield* rowsOf("messages")).toBe(0)
      // Not remembered as delivered: the same delivery is tried afresh (and fails the same way).
      expect((yield* deliver(channelId, signed)).status).toBe(500)
    }))
})
