/**
 * Whatever arrives at a webhook — random bytes, near-miss payloads, broken signatures — the
 * answer is a 2xx or a 4xx, never a 5xx, and a rejected delivery writes nothing. Properties
 * run through `fc.assert`: a failing input is shrunk, and reported with its seed. And when
 * the ingestion's transaction fails halfway — a new case whose triage job cannot be
 * enqueued, a follow-up whose last write fails — nothing of the delivery is left behind.
 */
import { expect, layer } from "@effect/vitest"
import * as Database from "@nestfleet/db/Database"
import { JobCatalogue } from "@nestfleet/jobs/Catalogue"
import { Effect, Layer, Runtime } from "effect"
import fc from "fast-check"
import * as AuthFlows from "./AuthFlows.js"
import { channelOf, deliver } from "./IntakeFlows.js"
import { awkwardJson, awkwardObject, awkwardText } from "./JsonArbitraries.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const sql = (text: string) =>
  Effect.flatMap(Database.Database, ({ pool }) => Effect.promise(() => pool.query(text).then((result) => result.rows)))

const rowsOf = (table: "cases" | "messages" | "deliveries") =>
  Effect.flatMap(Database.Database, ({ pool }) =>
    Effect.promise(() => pool.query(`select count(*)::int as n from ${table}`).then((result) => result.rows[0].n as number)))

/**
 * JSON values shaped like the payloads, with fields missing, mistyped or oversized, and
 * strings PostgreSQL cannot store as they are (lone surrogates, NUL characters).
 */
const nearMiss = fc.oneof(
  fc.json(),
  awkwardJson,
  fc.record({
    externalId: fc.oneof(fc.string(), fc.integer(), fc.constant(null), awkwardText),
    subject: fc.oneof(fc.string(), fc.constant(""), fc.string({ minLength: 290, maxLength: 400 }), awkwardText),
    body: fc.oneof(fc.string(), fc.array(fc.string()), awkwardText),
    customer: fc.oneof(fc.constant({}), fc.object(), fc.string(), awkwardObject),
    metadata: fc.oneof(awkwardObject, awkwardJson)
  }, { requiredKeys: [] }),
  fc.record({
    messageId: fc.oneof(fc.string(), fc.constant(null)),
    inReplyTo: fc.oneof(fc.string(), fc.integer()),
    references: fc.oneof(fc.string(), fc.array(fc.string())),
    from: fc.oneof(fc.record({ email: fc.string() }), fc.string(), fc.record({ email: awkwardText, name: awkwardText })),
    to: fc.oneof(fc.string(), awkwardText, fc.array(awkwardText)),
    subject: fc.string(),
    text: fc.oneof(fc.string(), fc.integer())
  }, { requiredKeys: [] }),
  fc.record({
    type: fc.constantFrom("event_callback", "url_verification", "app_rate_limited"),
    event_id: fc.string(),
    challenge: fc.oneof(fc.string(), fc.integer()),
    event: fc.oneof(
      fc.object(),
      fc.record({ type: fc.constant("message"), text: fc.string(), ts: fc.string() }),
      fc.record({ type: fc.constant("message"), text: awkwardText, ts: awkwardText, user: awkwardText, channel: awkwardText })
    )
  }, { requiredKeys: [] })
).map((value) => JSON.stringify(value) ?? "null")

const runs = 60

/** Asserts `check` for `runs` values of `arbitrary`, each check an Effect run on the test's runtime. */
const property = <A, R>(arbitrary: fc.Arbitrary<A>, check: (value: A) => Effect.Effect<void, never, R>) =>
  Effect.flatMap(Effect.runtime<R>(), (runtime) =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(arbitrary, (value) => Runtime.runPromise(runtime)(check(value))), { numRuns: runs })
    ))

layer(TestServer.layer(), { excludeTestServices: true, timeout: 180_000 })("webhook fuzzing", (it) => {
  it.effect("validly signed near-miss and random bodies never answer 5xx, and the rejected ones write nothing", () =>
    Effect.gen(function*() {
      const channels = yield* Effect.all([
        channelOf("webhook"),
        channelOf("email"),
        channelOf("slack")
      ])
      const [webhook, email, slack] = channels
      yield* property(fc.tuple(fc.nat({ max: 2 }), fc.oneof(nearMiss, fc.string())), ([which, body]) =>
        Effect.gen(function*() {
          const before = yield* rowsOf("deliveries")
          const target = which === 0 ? webhook : which === 1 ? email : slack
          const signed = which === 2 ? Signing.slack(target.secret, body) : Signing.standardWebhooks(target.secret, body)
          const response = yield* deliver(target.channelId, signed)
          expect(response.status).toBeLessThan(500)
          if (response.status >= 400) expect(yield* rowsOf("deliveries")).toBe(before)
        }))
    }))

  it.effect("random headers and bytes never answer 5xx", () =>
    Effect.gen(function*() {
      const github = yield* channelOf("github")
      const headers = fc.dictionary(
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
      )
      yield* property(fc.record({ headers, body: fc.uint8Array({ maxLength: 2048 }) }), ({ body, headers }) =>
        Effect.gen(function*() {
          const response = yield* TestServer.request(`/api/v1/webhooks/${github.channelId}`, {
            method: "POST",
            headers,
            body
          })
          expect(response.status).toBeLessThan(500)
          expect(response.status).toBeGreaterThanOrEqual(400)
        }))
      // Signed correctly but with random event names and JSON: still never a 5xx, and a
      // refused one writes nothing.
      const events = fc.tuple(fc.constantFrom("issues", "issue_comment", "ping", "push", "x"), nearMiss)
      yield* property(events, ([event, body]) =>
        Effect.gen(function*() {
          const before = yield* rowsOf("deliveries")
          const response = yield* TestServer.request(`/api/v1/webhooks/${github.channelId}`, {
            method: "POST",
            ...Signing.github(github.secret, event, body)
          })
          expect(response.status).toBeLessThan(500)
          if (response.status >= 400) expect(yield* rowsOf("deliveries")).toBe(before)
        }))
    }))

  it.effect("a follow-up whose last write fails rolls back whole: no message, no reopening, keys not claimed", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("email")
      const email = (messageId: string, extra: Record<string, unknown> = {}) =>
        Signing.standardWebhooks(secret, {
          messageId,
          from: { email: "grace@example.com" },
          to: "support@acme.test",
          subject: "Sync stopped",
          text: "Nothing has synced since Monday.",
          ...extra
        })
      const opened = yield* deliver(channelId, email("<first@mail.example.com>"))
      expect(opened.status).toBe(202)
      const caseId = (opened.body as { caseId: string }).caseId
      yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`, { method: "PATCH", body: { status: "resolved" } })
      const detail = Effect.map(AuthFlows.call(token, `/api/v1/cases/${caseId}`), (response) =>
        response.body as { case: { status: string }; messages: ReadonlyArray<unknown>; timeline: Array<{ kind: string }> })
      const reopenings = Effect.map(detail, ({ timeline }) => timeline.filter((event) => event.kind === "reopened").length)

      // The follow-up's last step marks its delivery keys with the message; make that fail
      // for as long as the scope below lasts, whatever happens in it.
      const failingFollowUps = Effect.acquireRelease(
        Effect.zipRight(
          sql(`
            create function fail_follow_up() returns trigger language plpgsql as $$
            begin
              if new.delivery_key like '%fail-follow-up%' then raise exception 'injected failure'; end if;
              return new;
            end $$`),
          sql("create trigger fail_follow_up before update on deliveries for each row execute function fail_follow_up()")
        ),
        () => sql("drop trigger if exists fail_follow_up on deliveries; drop function if exists fail_follow_up()")
      )
      const reply = email("<fail-follow-up@mail.example.com>", { inReplyTo: "<first@mail.example.com>", text: "Still broken." })
      yield* Effect.scoped(Effect.gen(function*() {
        yield* failingFollowUps
        const failed = yield* deliver(channelId, reply)
        expect(failed.status).toBe(500)
        expect(yield* detail).toMatchObject({ case: { status: "resolved" }, messages: [{}] })
        expect(yield* reopenings).toBe(0)
        expect(yield* sql("select 1 from deliveries where delivery_key like '%fail-follow-up%'")).toEqual([])
      }))

      // Nothing was remembered: once the fault is gone, the sender's retry goes through.
      const retried = yield* deliver(channelId, reply)
      expect(retried.status).toBe(202)
      expect(retried.body).toMatchObject({ caseId, duplicate: false })
      const after = yield* detail
      expect(after.case.status).toBe("needs_attention")
      expect(after.messages).toHaveLength(2)
      expect(yield* reopenings).toBe(1)
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
