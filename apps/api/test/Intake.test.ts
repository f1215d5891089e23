/**
 * Case intake end to end, on the real API, database, job queue and worker: products and
 * channels, signed deliveries of every channel type (GitHub's and Slack's as they send them), the
 * idempotency of redeliveries, threading, and a case triaged by the worker and read back.
 */
import { expect, layer } from "@effect/vitest"
import * as Database from "@nestfleet/db/Database"
import { RetriageCooldown } from "@nestfleet/core/Cases"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { Duration, Effect, Layer, Schedule } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import { channelOf, deliver, fixture } from "./IntakeFlows.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"


const serverLayer = TestServer.layer(undefined, { withWorker: true })

const adminToken = Effect.map(AuthFlows.signIn(TestServer.admin), (signedIn) => signedIn.accessToken)

const query = <Row = Record<string, unknown>>(text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.flatMap(Database.Database, ({ pool }) =>
    Effect.promise(() => pool.query(text, [...values]).then((result) => result.rows as Array<Row>)))

const countOf = (text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.map(query<{ n: number }>(`select count(*)::int as n from (${text}) counted`, values), (rows) => rows[0]!.n)

const message = (externalId: string, overrides: Record<string, unknown> = {}) => ({
  externalId,
  subject: "Export to CSV crashes",
  body: "When I click export the app crashes with an error. Steps to reproduce: open reports, click export.",
  customer: { email: "ada@example.com", name: "Ada" },
  ...overrides
})

/** Waits for the worker to have triaged the case; answers it as the API shows it. */
const triaged = (token: string, caseId: string) =>
  AuthFlows.call(token, `/api/v1/cases/${caseId}`).pipe(
    Effect.flatMap((response) => {
      const detail = response.body as { triage: unknown; case: { status: string } }
      return detail.triage === null ? Effect.fail("not triaged yet") : Effect.succeed(detail)
    }),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("20 seconds")))
  )

layer(serverLayer, { excludeTestServices: true, timeout: 120_000 })("case intake", (it) => {
  it.effect("products: created with default settings, changed in part, slugs unique, bad input refused", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      const created = yield* AuthFlows.call(token, "/api/v1/products", {
        method: "POST",
        body: { name: "Acme Cloud", slug: "acme-cloud", settings: { triageMinConfidence: 0.7 } }
      })
      expect(created.status).toBe(201)
      const product = created.body as { id: string; settings: Record<string, unknown> }
      expect(product.settings).toEqual({
        replyMode: "approval",
        autoSendMinConfidence: 0.85,
        matchMinSimilarity: 0.8,
        triageMinConfidence: 0.7,
        components: [],
        autoSendTypes: ["question"],
        replyGreeting: "Hi {name},",
        replyClosing: "Best regards,\nThe support team"
      })
      const changed = yield* AuthFlows.call(token, `/api/v1/products/${product.id}`, {
        method: "PATCH",
        body: {
          settings: { replyMode: "auto", components: [{ name: "Exports", description: "CSV", pathHints: ["src/export"] }] }
        }
      })
      expect(changed.status).toBe(200)
      expect((changed.body as { settings: unknown }).settings).toMatchObject({ replyMode: "auto", triageMinConfidence: 0.7 })
      expect((yield* AuthFlows.call(token, `/api/v1/products/${product.id}`)).body).toMatchObject({ name: "Acme Cloud" })

      const taken = yield* AuthFlows.call(token, "/api/v1/products", { method: "POST", body: { name: "Twin", slug: "acme-cloud" } })
      expect(taken.status).toBe(409)
      const other = yield* AuthFlows.call(token, "/api/v1/products", { method: "POST", body: { name: "Other", slug: "other-product" } })
      expect(other.status).toBe(201)
      const otherId = (other.body as { id: string }).id
      const takenByPatch = yield* AuthFlows.call(token, `/api/v1/products/${otherId}`, {
        method: "PATCH",
        body: { slug: "acme-cloud" }
      })
      expect(takenByPatch.status).toBe(409)
      expect((yield* AuthFlows.call(token, `/api/v1/products/${otherId}`)).body).toMatchObject({ slug: "other-product" })
      const listed = (yield* AuthFlows.call(token, "/api/v1/products")).body as { items: Array<{ id: string; slug: string }> }
      expect(listed.items.filter((item) => [product.id, otherId].includes(item.id)).map((item) => item.slug).sort())
        .toEqual(["acme-cloud", "other-product"])
      for (const body of [{ name: "X", slug: "Not A Slug" }, { name: "X", slug: "ok-slug", settings: { triageMinConfidence: 2 } }]) {
        expect((yield* AuthFlows.call(token, "/api/v1/products", { method: "POST", body })).status).toBe(400)
      }
      expect((yield* AuthFlows.call(token, "/api/v1/products/00000000-0000-4000-8000-000000000000")).status).toBe(404)
    }))

  it.effect("channels: the secret is shown at creation and rotation only; a disabled channel is not found", () =>
    Effect.gen(function*() {
      const { channelId, productId, secret, token } = yield* channelOf("webhook")
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
      const listed = yield* AuthFlows.call(token, `/api/v1/products/${productId}/channels`)
      expect(JSON.stringify(listed.body)).not.toContain(secret)
      expect(JSON.stringify(listed.body)).not.toContain("nfs")
      // At rest, the secret is encrypted: every setup has a key (a server refuses to start without one).
      const stored = yield* query<{ secret: string }>("select secret from channels where id = $1", [channelId])
      expect(stored[0]!.secret).toMatch(/^nfs1\./)
      expect(stored[0]!.secret).not.toContain(secret.slice(6, 20))

      expect((yield* deliver(channelId, Signing.standardWebhooks(secret, message("rotate-1")))).status).toBe(202)
      const rotated = yield* AuthFlows.call(token, `/api/v1/channels/${channelId}/rotate-secret`, { method: "POST", body: {} })
      expect(rotated.status).toBe(200)
      const newSecret = (rotated.body as { secret: string }).secret
      expect(newSecret).not.toBe(secret)
      expect((yield* deliver(channelId, Signing.standardWebhooks(secret, message("rotate-2")))).status).toBe(401)
      expect((yield* deliver(channelId, Signing.standardWebhooks(newSecret, message("rotate-3")))).status).toBe(202)

      const renamed = yield* AuthFlows.call(token, `/api/v1/channels/${channelId}`, {
        method: "PATCH",
        body: { name: "Website form", config: { source: "contact-page" } }
      })
      expect(renamed.status).toBe(200)
      expect(renamed.body).toMatchObject({ name: "Website form", config: { source: "contact-page" }, enabled: true })
      const paused = yield* AuthFlows.call(token, `/api/v1/channels/${channelId}`, { method: "PATCH", body: { enabled: false } })
      expect(paused.body).toMatchObject({ name: "Website form", enabled: false })
      expect((yield* deliver(channelId, Signing.standardWebhooks(newSecret, message("paused-1")))).status).toBe(404)
      const resumed = yield* AuthFlows.call(token, `/api/v1/channels/${channelId}`, { method: "PATCH", body: { enabled: true } })
      expect(resumed.body).toMatchObject({ enabled: true, config: { source: "contact-page" } })
      expect((yield* deliver(channelId, Signing.standardWebhooks(newSecret, message("resumed-1")))).status).toBe(202)
      expect((yield* AuthFlows.call(token, `/api/v1/channels/${channelId}`, { method: "PATCH", body: { name: "" } })).status)
        .toBe(400)

      const disabled = yield* AuthFlows.call(token, `/api/v1/channels/${channelId}`, { method: "DELETE" })
      expect(disabled.status).toBe(200)
      expect((disabled.body as { enabled: boolean }).enabled).toBe(false)
      const refused = yield* deliver(channelId, Signing.standardWebhooks(newSecret, message("rotate-4")))
      expect(refused.status).toBe(404)
      const unknown = yield* deliver("00000000-0000-4000-8000-000000000000", Signing.standardWebhooks(newSecret, message("x")))
      expect(unknown.status).toBe(404)
      expect({ ...(unknown.body as object), requestId: "" }).toEqual({ ...(refused.body as object), requestId: "" })
      expect((yield* deliver("not-a-uuid", Signing.standardWebhooks(newSecret, message("x")))).status).toBe(404)

      const slackWithout = yield* AuthFlows.call(token, `/api/v1/products/${productId}/channels`, {
        method: "POST",
        body: { type: "slack", name: "Slack without secret" }
      })
      expect(slackWithout.status).toBe(400)
      expect(slackWithout.body).toMatchObject({ _tag: "SecretRequired" })
    }))

  it.effect("a signed webhook opens a case (202); the same delivery again answers 200 duplicate, writing nothing", () =>
    Effect.gen(function*() {
      const { channelId, secret } = yield* channelOf("webhook")
      const signed = Signing.standardWebhooks(secret, message("ticket-1"))
      const first = yield* deliver(channelId, signed)
      expect(first.status).toBe(202)
      const accepted = first.body as { caseId: string; messageId: string; duplicate: boolean }
      expect(accepted.duplicate).toBe(false)

      const again = yield* deliver(channelId, signed)
      expect(again.status).toBe(200)
      expect(again.body).toEqual({ caseId: accepted.caseId, messageId: accepted.messageId, duplicate: true })
      // Resent with a new webhook-id, the same externalId is still the same message.
      const resent = yield* deliver(channelId, Signing.standardWebhooks(secret, message("ticket-1")))
      expect(resent.status).toBe(200)
      expect(yield* countOf("select 1 from cases where channel_id = $1", [channelId])).toBe(1)
      expect(yield* countOf("select 1 from messages where case_id = $1", [accepted.caseId])).toBe(1)
    }))

  it.effect("bad signatures answer 401, malformed payloads 400 naming the problem; nothing is written", () =>
    Effect.gen(function*() {
      const { channelId, secret } = yield* channelOf("webhook")
      const valid = Signing.standardWebhooks(secret, message("bad-1"))
      const wrongSecret = Signing.standardWebhooks(`whsec_${Buffer.alloc(32, 7).toString("base64")}`, message("bad-2"))
      const stale = Signing.standardWebhooks(secret, message("bad-3"), { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })
      const tampered = { ...valid, body: valid.body.replace("crashes", "works") }
      for (const signed of [wrongSecret, stale, tampered]) {
        const response = yield* deliver(channelId, signed)
        expect(response.status).toBe(401)
        expect(response.body).toMatchObject({ _tag: "WebhookSignatureInvalid" })
      }
      for (const header of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
        const { [header]: _, ...headers } = valid.headers
        const response = yield* deliver(channelId, { ...valid, headers })
        expect(response.status).toBe(401)
        expect((response.body as { message: string }).message).toContain(header)
      }
      const notJson = yield* deliver(channelId, Signing.standardWebhooks(secret, "{not json"))
      expect(notJson.status).toBe(400)
      expect((notJson.body as { message: string }).message).toContain("not JSON")
      const missingBody = yield* deliver(channelId, Signing.standardWebhooks(secret, { externalId: "x", subject: "s" }))
      expect(missingBody.status).toBe(400)
      expect((missingBody.body as { message: string }).message).toContain("body")
      expect(yield* countOf("select 1 from cases where channel_id = $1", [channelId])).toBe(0)
      expect(yield* countOf("select 1 from deliveries where channel_id = $1", [channelId])).toBe(0)
    }))

  it.effect("a delivery over 1 MiB answers 413, declared or streamed without a length, and writes nothing", () =>
    Effect.gen(function*() {
      const { channelId, secret } = yield* channelOf("webhook")
      const oversized = Signing.standardWebhooks(
        secret,
        message("too-large", { body: "x".repeat(TestServer.maxBodyBytes) })
      )
      const declared = yield* deliver(channelId, oversized)
      expect(declared.status).toBe(413)
      expect(declared.body).toMatchObject({ _tag: "PayloadTooLarge", limitBytes: TestServer.maxBodyBytes })

      // Chunked, with no content-length: the limit is applied while the body is read.
      // The server reads the rest into nothing: the answer arrives, never a reset.
      const streamed = yield* TestServer.postChunked(
        `/api/v1/webhooks/${channelId}`,
        { filler: oversized.body.slice(0, 64 * 1024), atLeastBytes: TestServer.maxBodyBytes },
        oversized.headers
      )
      expect(streamed.status).toBe(413)
      expect(JSON.parse(streamed.body)).toMatchObject({ _tag: "PayloadTooLarge" })
      expect(yield* countOf("select 1 from deliveries where channel_id = $1", [channelId])).toBe(0)
      expect(yield* countOf("select 1 from cases where channel_id = $1", [channelId])).toBe(0)
    }))

  it.effect("odd input answers 400 naming it, never 500: NUL characters, deep metadata, forged cursors, unusable secrets", () =>
    Effect.gen(function*() {
      const { channelId, productId, secret, token } = yield* channelOf("webhook")
      const nul = yield* deliver(channelId, Signing.standardWebhooks(secret, message("nul-1", { body: "a\u0000b" })))
      expect(nul.status).toBe(400)
      expect((nul.body as { message: string }).message).toContain("NUL")
      const nulKey = yield* deliver(channelId, Signing.standardWebhooks(secret, message("nul-2", { metadata: { "a\u0000": 1 } })))
      expect(nulKey.status).toBe(400)
      // Too deep for JSON.stringify to write, so written by hand.
      const deep = JSON.stringify(message("deep-1")).replace(/}$/, `,"metadata":{"deep":${"[".repeat(5000)}1${"]".repeat(5000)}}}`)
      const nested = yield* deliver(channelId, Signing.standardWebhooks(secret, deep))
      expect(nested.status).toBe(400)
      expect((nested.body as { message: string }).message).toContain("nests deeper")
      const shallowerButDeep = JSON.stringify(message("deep-2", { metadata: { a: [[[[[[[[[[[[1]]]]]]]]]]]] } }))
      const tooDeep = yield* deliver(channelId, Signing.standardWebhooks(secret, shallowerButDeep))
      expect(tooDeep.status).toBe(400)
      expect((tooDeep.body as { message: string }).message).toContain("metadata nests deeper than 10 levels")
      const longId = Signing.standardWebhooks(secret, message("long-id"), { id: "x".repeat(3000) })
      expect((yield* deliver(channelId, longId)).status).toBe(400)

      expect((yield* AuthFlows.call(token, "/api/v1/cases?q=%00")).status).toBe(400)
      const forged = Buffer.from("2024-02-31T00:00:00.000000Z|6f1c2a9e-8d4b-4c3a-9f2e-1b7d5e3a0c44").toString("base64url")
      const cursor = yield* AuthFlows.call(token, `/api/v1/cases?cursor=${forged}`)
      expect(cursor.status).toBe(400)
      expect(cursor.body).toMatchObject({ _tag: "InvalidCursor" })
      const caseId = ((yield* deliver(channelId, Signing.standardWebhooks(secret, message("odd-note")))).body as {
        caseId: string
      }).caseId
      const note = yield* AuthFlows.call(token, `/api/v1/cases/${caseId}/notes`, { method: "POST", body: { body: "x\u0000" } })
      expect(note.status).toBe(400)
      const name = yield* AuthFlows.call(token, "/api/v1/products", { method: "POST", body: { name: "a\u0000", slug: "nul" } })
      expect(name.status).toBe(400)

      const unusable = yield* AuthFlows.call(token, `/api/v1/products/${productId}/channels`, {
        method: "POST",
        body: { type: "webhook", name: "Own secret", secret: "my-own-secret-value-123" }
      })
      expect(unusable.status).toBe(400)
      const own = `whsec_${Buffer.alloc(32, 9).toString("base64")}`
      const usable = yield* AuthFlows.call(token, `/api/v1/products/${productId}/channels`, {
        method: "POST",
        body: { type: "webhook", name: "Own secret", secret: own }
      })
      expect(usable.status).toBe(201)
      const ownId = (usable.body as { channel: { id: string } }).channel.id
      expect((yield* deliver(ownId, Signing.standardWebhooks(own, message("own-1")))).status).toBe(202)
    }))

  it.effect("200 concurrent deliveries of one payload make exactly one case, one message and one triage job", () =>
    Effect.gen(function*() {
      const { channelId, secret } = yield* channelOf("webhook")
      const signed = Signing.standardWebhooks(secret, message("storm-1"))
      const responses = yield* Effect.all(Array.from({ length: 200 }, () => deliver(channelId, signed)), {
        concurrency: "unbounded"
      })
      const statuses = responses.map((response) => response.status)
      expect(statuses.filter((status) => status === 202)).toHaveLength(1)
      expect(statuses.filter((status) => status === 200)).toHaveLength(199)
      const caseIds = new Set(responses.map((response) => (response.body as { caseId: string }).caseId))
      expect(caseIds.size).toBe(1)
      const [caseId] = [...caseIds]
      expect(yield* countOf("select 1 from cases where channel_id = $1", [channelId])).toBe(1)
      expect(yield* countOf("select 1 from messages where case_id = $1", [caseId])).toBe(1)
      expect(yield* countOf("select 1 from pgboss.job where name = 'triage' and data->'payload'->>'caseId' = $1", [caseId]))
        .toBe(1)
    }))

  it.effect("email: a reply joins its case through In-Reply-To or References; a new thread opens another", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("email")
      const email = (messageId: string, extra: Record<string, unknown> = {}) =>
        Signing.standardWebhooks(secret, {
          messageId: `<${messageId}>`,
          from: { email: "grace@example.com", name: "Grace" },
          to: "support@acme.test",
          subject: "Invoice shows the wrong VAT",
          text: "Our invoice for March charged VAT twice.",
          ...extra
        })
      const first = (yield* deliver(channelId, email("m1@mail.example"))).body as { caseId: string }
      const reply = yield* deliver(channelId, email("m2@mail.example", { inReplyTo: "<m1@mail.example>", subject: "Re: Invoice" }))
      expect(reply.status).toBe(202)
      expect((reply.body as { caseId: string }).caseId).toBe(first.caseId)
      const deeper = yield* deliver(
        channelId,
        email("m3@mail.example", { references: "<m1@mail.example> <m2@mail.example>", subject: "Re: Re: Invoice" })
      )
      expect((deeper.body as { caseId: string }).caseId).toBe(first.caseId)
      const other = yield* deliver(channelId, email("m4@mail.example", { subject: "Another thing" }))
      expect((other.body as { caseId: string }).caseId).not.toBe(first.caseId)

      // A reply that arrives before the message it answers still lands in that thread's case.
      const early = yield* deliver(
        channelId,
        email("m6@mail.example", { inReplyTo: "<m5@mail.example>", references: "<m5@mail.example>", subject: "Re: Late" })
      )
      const late = yield* deliver(channelId, email("m5@mail.example", { subject: "Late" }))
      expect((late.body as { caseId: string }).caseId).toBe((early.body as { caseId: string }).caseId)

      const detail = (yield* AuthFlows.call(token, `/api/v1/cases/${first.caseId}`)).body as {
        messages: Array<{ kind: string; author: { email: string } }>
        case: { customer: { email: string } }
      }
      expect(detail.messages).toHaveLength(3)
      expect(detail.case.customer.email).toBe("grace@example.com")
    }))

  it.effect("GitHub: issues.opened opens a case, issue_comment.created joins it, issues.reopened reopens it, ping needs nothing", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("github")
      expect(secret).toMatch(/^[0-9a-f]{64}$/)
      const ping = yield* deliver(channelId, Signing.github(secret, "ping", fixture("github/ping.json")))
      expect(ping.status).toBe(200)
      expect(ping.body).toMatchObject({ ok: true })

      const opened = yield* deliver(channelId, Signing.github(secret, "issues", fixture("github/issues.opened.json")))
      expect(opened.status).toBe(202)
      const caseId = (opened.body as { caseId: string }).caseId
      const comment = yield* deliver(channelId, Signing.github(secret, "issue_comment", fixture("github/issue_comment.created.json")))
      expect(comment.status).toBe(202)
      expect((comment.body as { caseId: string }).caseId).toBe(caseId)
      // Closed on our side, then reopened on GitHub: the case is back, once per delivery.
      yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`, { method: "PATCH", body: { status: "resolved" } })
      const reopenedDelivery = Signing.github(secret, "issues", fixture("github/issues.reopened.json"))
      const reopened = yield* deliver(channelId, reopenedDelivery)
      expect(reopened.status).toBe(200)
      expect(reopened.body).toEqual({ ok: true })
      expect((yield* deliver(channelId, reopenedDelivery)).body).toEqual({ ok: true, ignored: "seen before" })
      // A delivery id that reopened an issue, sent again with another issue's opening: seen before.
      const otherIssue = JSON.parse(fixture("github/issues.opened.json"))
      otherIssue.issue.id = 444500042
      otherIssue.issue.number = 2
      const reusedId = Signing.github(
        secret,
        "issues",
        JSON.stringify(otherIssue),
        reopenedDelivery.headers["x-github-delivery"]
      )
      const casesBefore = yield* countOf("select id from cases")
      const reused = yield* deliver(channelId, reusedId)
      expect(reused.status).toBe(200)
      expect(reused.body).toEqual({ ok: true, ignored: "seen before" })
      expect(yield* countOf("select id from cases")).toBe(casesBefore)
      const afterReopen = (yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`)).body as {
        case: { status: string }
        timeline: Array<{ kind: string; data: { by?: string } }>
      }
      expect(afterReopen.case.status).toBe("needs_attention")
      expect(afterReopen.timeline.filter((event) => event.kind === "reopened")).toEqual([
        expect.objectContaining({ data: expect.objectContaining({ by: "Codertocat" }) })
      ])

      // Comments on a pull request are code review, not support.
      const onPullRequest = JSON.parse(fixture("github/issue_comment.created.json"))
      onPullRequest.issue.pull_request = { url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/1" }
      onPullRequest.comment.id = 1
      const review = yield* deliver(channelId, Signing.github(secret, "issue_comment", JSON.stringify(onPullRequest)))
      expect(review.status).toBe(200)
      expect(review.body).toMatchObject({ ok: true, ignored: "pull request conversations need nothing" })

      const redelivered = Signing.github(secret, "issues", fixture("github/issues.opened.json"))
      expect((yield* deliver(channelId, redelivered)).status).toBe(200) // same issue: a duplicate

      const wrong = Signing.github(secret, "issues", fixture("github/issues.opened.json"))
      const response = yield* deliver(channelId, { ...wrong, headers: { ...wrong.headers, "x-hub-signature-256": "sha256=00" } })
      expect(response.status).toBe(401)

      const detail = (yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`)).body as {
        case: { subject: string; customer: { handle: string } }
        messages: Array<{ body: string }>
      }
      expect(detail.case.subject).toBe("Spelling error in the README file")
      expect(detail.case.customer.handle).toBe("Codertocat")
      expect(detail.messages.map((message) => message.body)[1]).toContain("You are totally right")
    }))

  it.effect("GitHub: a reopen replayed under a fresh delivery id changes nothing; a later reopen of the issue still reopens", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("github")
      const opened = yield* deliver(channelId, Signing.github(secret, "issues", fixture("github/issues.opened.json")))
      const caseId = (opened.body as { caseId: string }).caseId
      const close = AuthFlows.call(token, `/api/v1/cases/${caseId}`, { method: "PATCH", body: { status: "closed" } })
      const status = Effect.map(
        AuthFlows.call(token, `/api/v1/cases/${caseId}`),
        (response) => (response.body as { case: { status: string } }).case.status
      )
      const reopenings = countOf("select 1 from case_events where case_id = $1 and kind = 'reopened'", [caseId])

      yield* close
      const reopen = fixture("github/issues.reopened.json")
      expect((yield* deliver(channelId, Signing.github(secret, "issues", reopen))).body).toEqual({ ok: true })
      expect(yield* status).toBe("needs_attention")

      // GitHub signs the body only: whoever holds it can send it again under a delivery id of their own.
      yield* close
      const replayed = yield* deliver(channelId, Signing.github(secret, "issues", reopen))
      expect(replayed.status).toBe(200)
      expect(replayed.body).toEqual({ ok: true, ignored: "seen before" })
      expect(yield* status).toBe("closed")
      expect(yield* reopenings).toBe(1)

      // Reopened again on GitHub later: another event of the same issue (its updated_at moved on).
      const later = JSON.parse(reopen)
      later.issue.updated_at = "2021-10-12T08:30:00Z"
      expect((yield* deliver(channelId, Signing.github(secret, "issues", JSON.stringify(later)))).body).toEqual({ ok: true })
      expect(yield* status).toBe("needs_attention")
      expect(yield* reopenings).toBe(2)
    }))

  it.effect("Slack: answers the URL challenge; a message opens a case, a thread reply joins it, files are listed, edits and bots are ignored", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("slack")
      const challenge = yield* deliver(channelId, Signing.slack(secret, fixture("slack/url_verification.json")))
      expect(challenge.status).toBe(200)
      expect(challenge.body).toEqual({ challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" })

      const opened = yield* deliver(channelId, Signing.slack(secret, fixture("slack/message.channels.json")))
      expect(opened.status).toBe(202)
      const caseId = (opened.body as { caseId: string }).caseId
      const reply = yield* deliver(channelId, Signing.slack(secret, fixture("slack/message.thread_reply.json")))
      expect(reply.status).toBe(202)
      expect((reply.body as { caseId: string }).caseId).toBe(caseId)
      const detail = (yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`)).body as {
        case: { subject: string; customer: { handle: string } }
        messages: Array<{ body: string }>
      }
      expect(detail.case.subject).toBe("The CSV export has been stuck at 99% since this morning. Nobody on our team can download reports.")
      expect(detail.case.customer.handle).toBe("U061F7AUR")
      expect(detail.messages.map((message) => message.body)).toEqual([
        "The CSV export has been stuck at 99% since this morning. Nobody on our team can download reports.",
        "Still stuck after clearing the cache and logging in again."
      ])

      // Slack retries a delivery it got no answer to in time: the same event is a redelivery.
      const retried = yield* deliver(channelId, Signing.slack(secret, fixture("slack/message.channels.json")))
      expect(retried.status).toBe(200)
      expect(retried.body).toMatchObject({ caseId, duplicate: true })

      const shared = yield* deliver(channelId, Signing.slack(secret, fixture("slack/message.file_share.json")))
      expect(shared.status).toBe(202)
      const sharedCase = (shared.body as { caseId: string }).caseId
      expect(sharedCase).not.toBe(caseId)
      const sharedDetail = (yield* AuthFlows.call(token, `/api/v1/cases/${sharedCase}`)).body as {
        messages: Array<{ body: string }>
      }
      expect(sharedDetail.messages[0]!.body).toContain(
        "- billing-error.png https://acme-corp.slack.com/files/U061F7AUR/F08GQB7H2RZ/billing-error.png"
      )

      const edited = yield* deliver(channelId, Signing.slack(secret, fixture("slack/message.message_changed.json")))
      expect(edited.status).toBe(200)
      expect(edited.body).toMatchObject({ ok: true })
      const fromBot = JSON.parse(fixture("slack/message.thread_reply.json"))
      fromBot.event_id = "Ev08GQZZBOT1"
      fromBot.event.ts = "1741944800.000900"
      fromBot.event.bot_id = "B0G9QF9C7"
      const bot = yield* deliver(channelId, Signing.slack(secret, fromBot))
      expect(bot.status).toBe(200)
      expect(bot.body).toMatchObject({ ok: true })
      const after = (yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`)).body as { messages: ReadonlyArray<unknown> }
      expect(after.messages).toHaveLength(2)

      const malformed = JSON.parse(fixture("slack/message.channels.json"))
      delete malformed.event.channel
      const refused = yield* deliver(channelId, Signing.slack(secret, malformed))
      expect(refused.status).toBe(400)
      expect(JSON.stringify(refused.body)).toContain("channel")

      const stale = Signing.slack(secret, fixture("slack/message.channels.json"), Math.floor(Date.now() / 1000) - 600)
      expect((yield* deliver(channelId, stale)).status).toBe(401)
    }))

  it.effect("a follow-up on a resolved or answered case reopens it, in the timeline; a closed one stays closed", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("email")
      const email = (id: string, extra: Record<string, unknown> = {}) =>
        Signing.standardWebhooks(secret, {
          messageId: id,
          from: { email: "lin@example.com" },
          to: "support@acme.test",
          subject: "Question about SSO",
          text: "How do I enable SSO?",
          ...extra
        })
      const caseId = ((yield* deliver(channelId, email("r1@x"))).body as { caseId: string }).caseId
      const resolved = yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`, { method: "PATCH", body: { status: "resolved" } })
      expect(resolved.status).toBe(200)
      yield* deliver(channelId, email("r2@x", { inReplyTo: "r1@x", text: "It still does not work." }))
      const detail = (yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`)).body as {
        case: { status: string }
        timeline: Array<{ kind: string; data: Record<string, unknown> }>
      }
      expect(detail.case.status).toBe("needs_attention")
      expect(detail.timeline.map((event) => event.kind)).toEqual(
        expect.arrayContaining(["case_opened", "status_changed", "message_received", "reopened"])
      )
      // Written in one transaction, the message and the reopening keep their order.
      const kinds = detail.timeline.map((event) => event.kind)
      expect(kinds.indexOf("reopened")).toBe(kinds.indexOf("message_received") + 1)

      // An answered case is back too when the customer writes again; a closed one stays closed.
      yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`, { method: "PATCH", body: { status: "replied" } })
      yield* deliver(channelId, email("r3@x", { inReplyTo: "r2@x", text: "Thanks, but no." }))
      const replied = (yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`)).body as { case: { status: string } }
      expect(replied.case.status).toBe("needs_attention")
      yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`, { method: "PATCH", body: { status: "closed" } })
      yield* deliver(channelId, email("r4@x", { inReplyTo: "r3@x", text: "One more thing." }))
      const closed = (yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`)).body as {
        case: { status: string }
        messages: Array<unknown>
      }
      expect(closed.case.status).toBe("closed")
      expect(closed.messages).toHaveLength(4)
    }))

  it.effect("webhook → worker → triaged case, read back through the API with its reasoning", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("webhook", { triageMinConfidence: 0.5 })
      const accepted = (yield* deliver(
        channelId,
        Signing.standardWebhooks(secret, message("pipeline-1", {
          subject: "Production outage: dashboard is down for all users",
          body: "Since 09:00 the dashboard is down for everyone, all users get 503 errors. This is an outage."
        }))
      )).body as { caseId: string }
      const detail = yield* triaged(token, accepted.caseId)
      const { case: summary, triage, timeline } = detail as unknown as {
        case: { status: string; type: string; severity: string }
        triage: {
          type: string
          severity: string
          confidence: number
          reasoning: Array<{ evidence: Array<string> }>
          provider: string
          model: string
        }
        timeline: Array<{ kind: string; data: { status?: { to: string } } }>
      }
      expect(triage).toMatchObject({ type: "incident", severity: "critical", provider: "builtin" })
      expect(triage.model).toBe("builtin-embedding-triage-1")
      expect(triage.reasoning.flatMap((step) => step.evidence)).toEqual(expect.arrayContaining(["outage"]))
      expect(summary).toMatchObject({ type: "incident", severity: "critical", status: "triaged" })
      expect(timeline.filter((event) => event.kind === "triaged")).toHaveLength(1)

      // Too little to go on: below the product's threshold, the case needs a person.
      const vague = (yield* deliver(
        channelId,
        Signing.standardWebhooks(secret, message("pipeline-2", { subject: "hello", body: "quick thing" }))
      )).body as { caseId: string }
      const vagueDetail = (yield* triaged(token, vague.caseId)) as unknown as {
        case: { status: string }
        triage: { confidence: number }
      }
      expect(vagueDetail.triage.confidence).toBeLessThan(0.5)
      expect(vagueDetail.case.status).toBe("needs_attention")

      // A person disagrees, then asks for a fresh triage: the worker's new result replaces theirs.
      yield* AuthFlows.call(token, `/api/v1/cases/${accepted.caseId}`, { method: "PATCH", body: { type: "question" } })
      const retriage = yield* AuthFlows.call(token, `/api/v1/cases/${accepted.caseId}/retriage`, { method: "POST" })
      expect(retriage.status).toBe(202)
      const retriaged = yield* AuthFlows.call(token, `/api/v1/cases/${accepted.caseId}`).pipe(
        Effect.map((response) =>
          response.body as unknown as {
            case: { type: string }
            triage: { createdAt: string }
            timeline: Array<{ kind: string }>
          }
        ),
        Effect.filterOrFail(
          (detail) => detail.timeline.filter((event) => event.kind === "triaged").length === 2,
          () => "not triaged again yet"
        ),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("20 seconds")))
      )
      expect(retriaged.case.type).toBe("incident")
      expect(Date.parse(retriaged.triage.createdAt)).toBeGreaterThan(Date.parse((triage as unknown as { createdAt: string }).createdAt))
    }))

  it.effect("cases: filters, full-text search and keyset pages, newest first", () =>
    Effect.gen(function*() {
      const { channelId, productId, secret, token } = yield* channelOf("webhook")
      const ids: Array<string> = []
      for (let i = 0; i < 7; i++) {
        const response = yield* deliver(
          channelId,
          Signing.standardWebhooks(secret, message(`list-${i}`, {
            subject: i === 3 ? "Refund for the duplicate charge" : `Export problem number ${i}`,
            body: i === 5 ? "The quarterly spreadsheet import mangles umlauts" : "Something is off"
          }))
        )
        ids.push((response.body as { caseId: string }).caseId)
      }
      const page = (params: string) =>
        Effect.map(AuthFlows.call(token, `/api/v1/cases?productId=${productId}&${params}`), (response) => {
          expect(response.status).toBe(200)
          return response.body as { items: Array<{ id: string; number: number }>; nextCursor: string | null }
        })
      const first = yield* page("limit=3")
      expect(first.items.map((item) => item.id)).toEqual(ids.slice(4).reverse())
      const second = yield* page(`limit=3&cursor=${first.nextCursor}`)
      expect(second.items.map((item) => item.id)).toEqual(ids.slice(1, 4).reverse())
      const third = yield* page(`limit=3&cursor=${second.nextCursor}`)
      expect(third.items.map((item) => item.id)).toEqual([ids[0]])
      expect(third.nextCursor).toBeNull()
      expect(first.items[0]!.number).toBeGreaterThan(first.items[1]!.number)

      expect((yield* page("q=refund")).items.map((item) => item.id)).toEqual([ids[3]])
      expect((yield* page("q=spreadsheet umlauts")).items.map((item) => item.id)).toEqual([ids[5]])
      expect((yield* page("status=resolved")).items).toEqual([])

      // Type, severity and assignee: once the worker has triaged every case, a person sets some.
      for (const id of ids) yield* triaged(token, id)
      const admin = (yield* AuthFlows.call(token, "/api/v1/auth/me")).body as { id: string }
      const change = (id: string, body: Record<string, unknown>) =>
        Effect.map(AuthFlows.call(token, `/api/v1/cases/${id}`, { method: "PATCH", body }), (response) =>
          expect(response.status).toBe(200))
      yield* change(ids[1]!, { type: "feature_request", severity: "critical" })
      yield* change(ids[2]!, { assigneeId: admin.id, severity: "critical" })
      yield* change(ids[6]!, { assigneeId: admin.id, type: "feature_request" })
      type Summary = { id: string; type: string | null; severity: string | null; assigneeId: string | null }
      const all = (yield* page("limit=100")).items as unknown as Array<Summary>
      expect(all).toHaveLength(7)
      const filtered = (params: string, expected: (item: Summary) => boolean, atLeast: number) =>
        Effect.map(page(params), ({ items }) => {
          const wanted = all.filter(expected).map((item) => item.id)
          expect(wanted.length).toBeGreaterThanOrEqual(atLeast)
          expect([params, items.map((item) => item.id)]).toEqual([params, wanted])
        })
      yield* filtered("type=feature_request", (item) => item.type === "feature_request", 2)
      yield* filtered("severity=critical", (item) => item.severity === "critical", 2)
      yield* filtered(`assigneeId=${admin.id}`, (item) => item.assigneeId === admin.id, 2)
      yield* filtered("type=feature_request&severity=critical", (item) =>
        item.type === "feature_request" && item.severity === "critical", 1)
      yield* filtered(`assigneeId=${admin.id}&type=feature_request&limit=1`, (item) => item.id === ids[6], 1)
      expect((yield* page(`assigneeId=${admin.id}&q=refund`)).items).toEqual([])

      for (
        const bad of [
          "limit=0",
          "limit=101",
          "status=unknown",
          "cursor=garbage",
          "type=feature",
          "severity=urgent",
          "assigneeId=nobody",
          "productId=42"
        ]
      ) {
        const response = yield* AuthFlows.call(token, `/api/v1/cases?${bad}`)
        expect([bad, response.status]).toEqual([bad, 400])
      }
    }))

  it.effect("agents change cases and add notes; each change is in the timeline with who made it", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("webhook")
      const admin = (yield* AuthFlows.call(token, "/api/v1/auth/me")).body as { id: string }
      const caseId = ((yield* deliver(channelId, Signing.standardWebhooks(secret, message("work-1")))).body as {
        caseId: string
      }).caseId
      const changed = yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`, {
        method: "PATCH",
        body: { status: "resolved", assigneeId: admin.id, type: "question", severity: "low" }
      })
      expect(changed.status).toBe(200)
      const detail = changed.body as {
        case: Record<string, unknown>
        timeline: Array<{ kind: string; actorUserId: string | null; data: { from: unknown; to: unknown } }>
      }
      expect(detail.case).toMatchObject({ status: "resolved", assigneeId: admin.id, type: "question", severity: "low" })
      const human = detail.timeline.filter((event) => event.actorUserId === admin.id)
      expect(human.map((event) => event.kind).sort()).toEqual(
        ["assignee_changed", "severity_changed", "status_changed", "type_changed"]
      )
      expect(human.find((event) => event.kind === "type_changed")?.data.to).toBe("question")

      const note = yield* AuthFlows.call(token, `/api/v1/cases/${caseId}/notes`, { method: "POST", body: { body: "Called them." } })
      expect(note.status).toBe(201)
      const notes = (note.body as { messages: Array<{ kind: string; body: string; author: { userId: string } }> }).messages
        .filter((message) => message.kind === "note")
      expect(notes).toEqual([expect.objectContaining({ body: "Called them.", author: expect.objectContaining({ userId: admin.id }) })])

      const retriage = yield* AuthFlows.call(token, `/api/v1/cases/${caseId}/retriage`, { method: "POST" })
      expect(retriage.status).toBe(202)
      expect(yield* countOf("select 1 from pgboss.job where name = 'triage' and data->'payload'->>'caseId' = $1", [caseId]))
        .toBe(2)

      const nobody = yield* AuthFlows.call(token, `/api/v1/cases/${caseId}`, {
        method: "PATCH",
        body: { assigneeId: "00000000-0000-4000-8000-000000000000" }
      })
      expect(nobody.status).toBe(400)
      expect((yield* AuthFlows.call(token, "/api/v1/cases/00000000-0000-4000-8000-000000000000")).status).toBe(404)
    }))

  it.effect("with the worker running, 50 parallel retriages of a case queue one job and write one event", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("webhook")
      const { caseId } = (yield* deliver(channelId, Signing.standardWebhooks(secret, message("retriage-worker")))).body as {
        caseId: string
      }
      // On the embedded database the requests take turns on its one connection, and each
      // retriage may run to its end before the next request is read: only the cooldown holds them.
      const answers = yield* Effect.all(
        Array.from({ length: 50 }, () => AuthFlows.call(token, `/api/v1/cases/${caseId}/retriage`, { method: "POST" })),
        { concurrency: "unbounded" }
      )
      expect(answers.filter((answer) => answer.status === 202)).toHaveLength(1)
      expect(answers.filter((answer) => answer.status === 200)).toHaveLength(49)
      expect(yield* countOf(
        "select 1 from pgboss.job where name = 'triage' and data->'payload'->>'caseId' = $1 and data->'payload'->>'reason' = 'retriage'",
        [caseId]
      )).toBe(1)
      expect(yield* countOf("select 1 from case_events where case_id = $1 and kind = 'retriage_requested'", [caseId]))
        .toBe(1)
    }))
})

// No worker: a queued job waits until the test starts it. No cooldown either, so that what
// decides is whether a job waits (the cooldown has its own tests below, and in Cases.test.ts).
const withoutCooldown = TestServer.layer().pipe(Layer.provide(Layer.succeed(RetriageCooldown, Duration.zero)))

layer(withoutCooldown, { excludeTestServices: true, timeout: 60_000 })("retriage", (it) => {
  it.effect("50 parallel requests queue one job and write one event; every answer says a retriage is queued", () =>
    Effect.gen(function*() {
      const { channelId, secret, token } = yield* channelOf("webhook")
      const caseId = ((yield* deliver(channelId, Signing.standardWebhooks(secret, message("retriage-1")))).body as {
        caseId: string
      }).caseId
      const retriage = AuthFlows.call(token, `/api/v1/cases/${caseId}/retriage`, { method: "POST" })
      const jobs = countOf(
        "select 1 from pgboss.job where name = 'triage' and data->'payload'->>'caseId' = $1 and data->'payload'->>'reason' = 'retriage'",
        [caseId]
      )
      const events = countOf("select 1 from case_events where case_id = $1 and kind = 'retriage_requested'", [caseId])

      const answers = yield* Effect.all(Array.from({ length: 50 }, () => retriage), { concurrency: "unbounded" })
      const queued = answers.filter((answer) => answer.status === 202)
      expect(queued).toHaveLength(1)
      expect(queued[0]!.body).toMatchObject({ kind: "retriage_requested" })
      const jobId = (queued[0]!.body as { data: { jobId: string } }).data.jobId
      const waiting = answers.filter((answer) => answer.status === 200)
      expect(waiting).toHaveLength(49)
      for (const answer of waiting) expect(answer.body).toMatchObject({ alreadyQueued: true, jobId })
      expect(yield* jobs).toBe(1)
      expect(yield* events).toBe(1)

      // Once a worker has started the job, another retriage may be queued.
      const { boss } = yield* JobQueue
      const started = yield* Effect.promise(() => boss.fetch("triage", { batchSize: 10 }))
      expect(started.map((job) => job.id)).toContain(jobId)
      const next = yield* retriage
      expect(next.status).toBe(202)
      const nextJobId = (next.body as { data: { jobId: string } }).data.jobId
      expect(nextJobId).not.toBe(jobId)

      // A job that failed and waits for its retry is still queued.
      expect((yield* Effect.promise(() => boss.fetch("triage", { batchSize: 10 }))).map((job) => job.id)).toEqual([nextJobId])
      yield* Effect.promise(() => boss.fail("triage", nextJobId, { message: "the model was unreachable" }))
      const retrying = yield* retriage
      expect(retrying.status).toBe(200)
      expect(retrying.body).toMatchObject({ alreadyQueued: true, jobId: nextJobId })
      expect(yield* jobs).toBe(2)
      expect(yield* events).toBe(2)
    }))
})
