import type { ChannelType } from "@nestfleet/domain/Channels"
import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted } from "effect"
import { createHmac } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Webhook } from "standardwebhooks"
import { generateSecret, verify, type Headers } from "../src/WebhookSignatures.js"

const fixtures = Path.resolve(import.meta.dirname, "../../../test/fixtures/github")
const fixture = (name: string): Uint8Array => Fs.readFileSync(Path.join(fixtures, name))

const bytes = (text: string): Uint8Array => Buffer.from(text, "utf8")

/** Every secret a test used, and every reason a verification gave: no reason may show a secret. */
const secretsSeen = new Set<string>()
const reasons: Array<string> = []

const check = (type: ChannelType, secret: string, headers: Headers, body: Uint8Array, now?: Date) => {
  secretsSeen.add(secret)
  const verdict = verify(type, Redacted.make(secret), headers, body, now ?? new Date())
  if (Either.isLeft(verdict)) reasons.push(verdict.left)
  return verdict
}

const expectValid = (verdict: Either.Either<void, string>) => {
  if (Either.isLeft(verdict)) expect.fail(`expected a valid signature, got: ${verdict.left}`)
}

const expectInvalid = (verdict: Either.Either<void, string>, reason: RegExp) => {
  expect(Either.isLeft(verdict)).toBe(true)
  if (Either.isLeft(verdict)) expect(verdict.left).toMatch(reason)
}

// ---- Standard Webhooks (webhook, email) ----

const whsec = `whsec_${Buffer.from("nestfleet-test-signing-key-32byt").toString("base64")}`
const otherWhsec = `whsec_${Buffer.from("another-signing-key-of-32-bytes!").toString("base64")}`

/** Signed by hand, following the spec rather than the package: HMAC-SHA256 keyed by the base64 part. */
const signByHand = (secret: string, id: string, timestamp: number, body: Uint8Array) =>
  `v1,${
    createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64"))
      .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]))
      .digest("base64")
  }`

const seconds = (date: Date) => Math.floor(date.getTime() / 1000)

const genericBody = bytes(JSON.stringify({
  externalId: "ord-7781",
  subject: "Résumé upload fails",
  body: "Uploading a PDF résumé fails with “413”.",
  customer: { email: "ana@example.com", name: "Ana Lima" }
}))

const emailBody = bytes(JSON.stringify({
  messageId: "<CAF=abc123@mail.example.com>",
  from: { email: "sam@example.org", name: "Sam" },
  to: "support@nestfleet.example",
  subject: "Invoice question",
  text: "Hello,\nwhere can I download the March invoice?\n-- Sam"
}))

const swHeaders = (id: string, timestamp: number, signature: string): Headers => ({
  "webhook-id": id,
  "webhook-timestamp": String(timestamp),
  "webhook-signature": signature
})

describe("WebhookSignatures.verify", () => {
  describe.each(["webhook", "email"] as const)("Standard Webhooks (%s)", (type) => {
    const body = type === "webhook" ? genericBody : emailBody
    const id = `msg_${type}_2fYcR8qvXxUQ`

    it("accepts a signature made by the standardwebhooks package", () => {
      const now = new Date()
      const signature = new Webhook(whsec).sign(id, now, Buffer.from(body))
      expectValid(check(type, whsec, swHeaders(id, seconds(now), signature), body))
    })

    it("accepts a signature made by hand, and it is the one the package makes", () => {
      const now = new Date()
      const signature = signByHand(whsec, id, seconds(now), body)
      expect(signature).toBe(new Webhook(whsec).sign(id, now, Buffer.from(body)))
      expectValid(check(type, whsec, swHeaders(id, seconds(now), signature), body))
    })

    it("accepts a delivery with several signatures when one of them holds", () => {
      const ts = seconds(new Date())
      const good = signByHand(whsec, id, ts, body)
      const stale = signByHand(otherWhsec, id, ts, body)
      for (const signature of [`${stale} ${good}`, `${good} ${stale}`, `v2,${good.slice(3)} ${stale} ${good}`]) {
        expectValid(check(type, whsec, swHeaders(id, ts, signature), body))
      }
      expectInvalid(check(type, whsec, swHeaders(id, ts, `${stale} v2,${good.slice(3)}`), body), /does not verify/)
    })

    it("refuses a signature made with another secret", () => {
      const ts = seconds(new Date())
      expectInvalid(
        check(type, whsec, swHeaders(id, ts, signByHand(otherWhsec, id, ts, body)), body),
        /does not verify.*No matching signature/
      )
    })

    it("refuses a timestamp 6 minutes old or 6 minutes ahead, even when the signature holds", () => {
      const now = Date.now()
      const old = seconds(new Date(now - 6 * 60_000))
      const ahead = seconds(new Date(now + 6 * 60_000))
      expectInvalid(check(type, whsec, swHeaders(id, old, signByHand(whsec, id, old, body)), body), /too old/)
      expectInvalid(check(type, whsec, swHeaders(id, ahead, signByHand(whsec, id, ahead, body)), body), /too new/)
      // Inside the tolerance it holds.
      const recent = seconds(new Date(now - 4 * 60_000))
      expectValid(check(type, whsec, swHeaders(id, recent, signByHand(whsec, id, recent, body)), body))
    })

    it("judges the timestamp by the time it is given, not the machine's", () => {
      const then = new Date("2020-02-29T12:00:00Z")
      const headers = swHeaders(id, seconds(then), new Webhook(whsec).sign(id, then, Buffer.from(body)))
      expectValid(check(type, whsec, headers, body, then))
      expectValid(check(type, whsec, headers, body, new Date(then.getTime() + 4 * 60_000)))
      expectInvalid(check(type, whsec, headers, body, new Date(then.getTime() + 6 * 60_000)), /too old/)
      expectInvalid(check(type, whsec, headers, body), /too old/)
    })

    it("refuses a non-numeric timestamp", () => {
      expectInvalid(check(type, whsec, swHeaders(id, Number.NaN, signByHand(whsec, id, 0, body)), body), /does not verify/)
    })

    it.each(["webhook-id", "webhook-timestamp", "webhook-signature"])("refuses a delivery without %s", (name) => {
      const ts = seconds(new Date())
      const headers: Record<string, string | undefined> = { ...swHeaders(id, ts, signByHand(whsec, id, ts, body)) }
      expectInvalid(check(type, whsec, { ...headers, [name]: undefined }, body), new RegExp(`Missing the ${name} header`))
      expectInvalid(check(type, whsec, { ...headers, [name]: "" }, body), new RegExp(`Missing the ${name} header`))
      delete headers[name]
      expectInvalid(check(type, whsec, headers, body), new RegExp(`Missing the ${name} header`))
    })

    it("refuses a tampered body, and a signature for another message id", () => {
      const ts = seconds(new Date())
      const signature = signByHand(whsec, id, ts, body)
      const tampered = Buffer.from(body)
      tampered[tampered.length - 2]! ^= 1
      expectInvalid(check(type, whsec, swHeaders(id, ts, signature), tampered), /does not verify/)
      expectInvalid(check(type, whsec, swHeaders(id, ts, signature), Buffer.concat([body, bytes(" ")])), /does not verify/)
      expectInvalid(check(type, whsec, swHeaders(`${id}x`, ts, signature), body), /does not verify/)
    })

    it("checks the signature only: a correctly signed body that is not JSON is valid (reading it is another step)", () => {
      const ts = seconds(new Date())
      const text = bytes("this is not json")
      expectValid(check(type, whsec, swHeaders(id, ts, signByHand(whsec, id, ts, text)), text))
    })
  })

  describe("GitHub", () => {
    const secret = "6b1c0e5a9f2d4c7e8a3b5d1f0e9c8b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"
    const sign = (key: string, body: Uint8Array) => `sha256=${createHmac("sha256", key).update(body).digest("hex")}`

    it.each(["issues.opened.json", "issues.reopened.json", "issue_comment.created.json", "ping.json"])(
      "accepts the real %s payload signed with the secret",
      (name) => {
        const body = fixture(name)
        expectValid(check("github", secret, { "x-hub-signature-256": sign(secret, body) }, body))
        // Hex digits in either case.
        const upper = `sha256=${sign(secret, body).slice("sha256=".length).toUpperCase()}`
        expectValid(check("github", secret, { "x-hub-signature-256": upper }, body))
      }
    )

    it("refuses a signature made with another secret", () => {
      const body = fixture("issues.opened.json")
      expectInvalid(check("github", secret, { "x-hub-signature-256": sign("not-the-secret", body) }, body), /does not match/)
    })

    it("refuses a delivery without X-Hub-Signature-256", () => {
      const body = fixture("issues.opened.json")
      expectInvalid(check("github", secret, {}, body), /Missing the X-Hub-Signature-256 header/)
      expectInvalid(check("github", secret, { "x-hub-signature-256": "" }, body), /Missing the X-Hub-Signature-256 header/)
    })

    it("refuses a malformed header: another prefix, the legacy SHA-1 form, no hex, a truncated digest", () => {
      const body = fixture("issues.opened.json")
      const hex = sign(secret, body).slice("sha256=".length)
      expectInvalid(check("github", secret, { "x-hub-signature-256": hex }, body), /must look like sha256=<hex>/)
      expectInvalid(check("github", secret, { "x-hub-signature-256": `sha1=${hex}` }, body), /must look like sha256=<hex>/)
      expectInvalid(check("github", secret, { "x-hub-signature-256": `SHA256=${hex}` }, body), /must look like sha256=<hex>/)
      expectInvalid(check("github", secret, { "x-hub-signature-256": "sha256=" }, body), /does not match/)
      expectInvalid(check("github", secret, { "x-hub-signature-256": `sha256=${hex.slice(0, 40)}` }, body), /does not match/)
      expectInvalid(check("github", secret, { "x-hub-signature-256": `sha256=${"zz".repeat(32)}` }, body), /does not match/)
      expectInvalid(check("github", secret, { "x-hub-signature-256": `sha256=${hex} ` }, body), /does not match/)
    })

    it("refuses a tampered body", () => {
      const body = fixture("issues.opened.json")
      const signature = sign(secret, body)
      const tampered = Buffer.from(Buffer.from(body).toString("utf8").replace("Spelling error", "Spelling errors"))
      expect(tampered.equals(Buffer.from(body))).toBe(false)
      expectInvalid(check("github", secret, { "x-hub-signature-256": signature }, tampered), /does not match/)
      // Re-serialising the same JSON changes the bytes, so the signature no longer holds either.
      const reserialised = bytes(JSON.stringify(JSON.parse(Buffer.from(body).toString("utf8"))))
      expectInvalid(check("github", secret, { "x-hub-signature-256": signature }, reserialised), /does not match/)
    })
  })

  describe("Slack", () => {
    const secret = "8f742231b10e8888abcd99yyyzzz85a5"
    const now = new Date("2025-03-14T09:26:53Z")
    const body = bytes(
      JSON.stringify({
        token: "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        team_id: "T0001",
        api_app_id: "A0KRD7HC3",
        event: {
          type: "message",
          channel: "C2147483705",
          user: "U2147483697",
          text: "Hello, the export is stuck at 99% — can someone look?",
          ts: "1741944413.000200"
        },
        type: "event_callback",
        event_id: "Ev0PV52K21",
        event_time: 1741944413
      })
    )
    const sign = (key: string, timestamp: string, payload: Uint8Array) =>
      `v0=${createHmac("sha256", key).update(Buffer.concat([Buffer.from(`v0:${timestamp}:`), payload])).digest("hex")}`
    const headers = (timestamp: string, signature: string): Headers => ({
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": signature
    })
    const ts = String(seconds(now))

    it("accepts a signature over v0:<timestamp>:<raw body>", () => {
      expectValid(check("slack", secret, headers(ts, sign(secret, ts, body)), body, now))
      // The example in Slack's "Verifying requests from Slack" guide.
      const example = bytes(
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
      )
      expectValid(check(
        "slack",
        secret,
        headers("1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
        example,
        new Date(1531420618 * 1000 + 30_000)
      ))
    })

    it("refuses a signature made with another secret", () => {
      expectInvalid(check("slack", secret, headers(ts, sign("another-secret", ts, body)), body, now), /does not match/)
    })

    it("refuses a tampered body or a signature for another timestamp", () => {
      const signature = sign(secret, ts, body)
      expectInvalid(check("slack", secret, headers(ts, signature), bytes(`${Buffer.from(body).toString()} `), now), /does not match/)
      const later = String(Number(ts) + 1)
      expectInvalid(check("slack", secret, headers(later, signature), body, now), /does not match/)
    })

    it("refuses a timestamp more than 5 minutes from now, judged by the now given", () => {
      const signature = sign(secret, ts, body)
      expectInvalid(check("slack", secret, headers(ts, signature), body, new Date(now.getTime() + 6 * 60_000)), /more than 5 minutes/)
      expectInvalid(check("slack", secret, headers(ts, signature), body, new Date(now.getTime() - 6 * 60_000)), /more than 5 minutes/)
      expectValid(check("slack", secret, headers(ts, signature), body, new Date(now.getTime() + 5 * 60_000)))
      // The default now is the real clock: a 2025 timestamp is stale today.
      expectInvalid(check("slack", secret, headers(ts, signature), body), /more than 5 minutes/)
    })

    it("refuses a delivery without either header", () => {
      const signature = sign(secret, ts, body)
      expectInvalid(check("slack", secret, { "x-slack-signature": signature }, body, now), /Missing the X-Slack-Request-Timestamp header/)
      expectInvalid(check("slack", secret, { "x-slack-request-timestamp": ts }, body, now), /Missing the X-Slack-Signature header/)
      expectInvalid(check("slack", secret, headers("", signature), body, now), /Missing the X-Slack-Request-Timestamp header/)
    })

    it("refuses a non-numeric timestamp and a malformed signature", () => {
      for (const bad of ["yesterday", "1741944413.5", "-1741944413", "0x67d3f5dd", " 1741944413"]) {
        expectInvalid(check("slack", secret, headers(bad, sign(secret, bad, body)), body, now), /must be Unix seconds/)
      }
      const hex = sign(secret, ts, body).slice(3)
      expectInvalid(check("slack", secret, headers(ts, hex), body, now), /must look like v0=<hex>/)
      expectInvalid(check("slack", secret, headers(ts, `v1=${hex}`), body, now), /must look like v0=<hex>/)
      expectInvalid(check("slack", secret, headers(ts, `v0=${hex.slice(2)}`), body, now), /does not match/)
    })
  })

  it("never puts a secret in a failure reason", () => {
    expect(reasons.length).toBeGreaterThan(30)
    for (const reason of reasons) {
      for (const secret of secretsSeen) {
        expect(reason).not.toContain(secret)
        if (secret.startsWith("whsec_")) expect(reason).not.toContain(secret.slice("whsec_".length))
      }
    }
  })
})

describe("WebhookSignatures.generateSecret", () => {
  it.each(["webhook", "email"] as const)("makes a whsec_ secret of 32 random bytes for %s that standardwebhooks accepts", (type) => {
    const secret = Redacted.value(generateSecret(type))
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Buffer.from(secret.slice("whsec_".length), "base64")).toHaveLength(32)
    const now = new Date()
    const signature = new Webhook(secret).sign("msg_1", now, '{"ok":true}')
    const headers = { "webhook-id": "msg_1", "webhook-timestamp": String(seconds(now)), "webhook-signature": signature }
    expect(new Webhook(secret).verify('{"ok":true}', headers)).toEqual({ ok: true })
    expectValid(verify(type, Redacted.make(secret), swHeaders("msg_1", seconds(now), signature), bytes('{"ok":true}'), now))
  })

  it("makes a 64-character hex secret for github", () => {
    const secret = Redacted.value(generateSecret("github"))
    expect(secret).toMatch(/^[0-9a-f]{64}$/)
  })

  it.each(["webhook", "email", "github"] as const)("makes a different secret on every call (%s), redacted when printed", (type) => {
    const first = generateSecret(type)
    const second = generateSecret(type)
    expect(Redacted.value(first)).not.toBe(Redacted.value(second))
    expect(String(first)).not.toContain(Redacted.value(first))
    expect(JSON.stringify({ first })).not.toContain(Redacted.value(first))
  })
})
