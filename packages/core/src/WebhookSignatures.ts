/**
 * Checking a delivery's signature on its raw body, per channel type, before anything is
 * parsed. Every comparison is constant-time; a failure says what was wrong (for the
 * sender's developer) but never what was expected.
 *
 * - webhook, email: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 *   `webhook-signature: v1,<base64>` …; HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed by
 *   the secret's base64), with the timestamp within 5 minutes. Checked here rather than by
 *   the `standardwebhooks` package, which reads the time from `Date.now()` itself: the
 *   caller says what time it is (Effect's `Clock`), as for Slack.
 * - github: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
 * - slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>">` with
 *   `X-Slack-Request-Timestamp` within 5 minutes.
 */
import type { ChannelType } from "@nestfleet/domain/Channels"
import { Either, Redacted } from "effect"
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { Webhook } from "standardwebhooks"

const toleranceSeconds = 5 * 60

export type Headers = Readonly<Record<string, string | undefined>>

/** Right when the signature holds; Left with the reason otherwise. */
type Verdict = Either.Either<void, string>

const valid: Verdict = Either.void

const equalHex = (given: string, expected: Buffer): boolean => {
  if (!/^[0-9a-f]+$/i.test(given) || given.length !== expected.length * 2) return false
  return timingSafeEqual(Buffer.from(given, "hex"), expected)
}

const hmac = (secret: Redacted.Redacted<string>, data: string | Uint8Array) =>
  createHmac("sha256", Redacted.value(secret)).update(data).digest()

/** The key of a Standard Webhooks secret: the base64 after its optional `whsec_` prefix. */
const standardWebhooksKey = (secret: Redacted.Redacted<string>) =>
  Buffer.from(Redacted.value(secret).replace(/^whsec_/, ""), "base64")

const base64Signature = /^[A-Za-z0-9+/]{43}=$/

const notVerified = (reason: string) => Either.left(`The Standard Webhooks signature does not verify: ${reason}`)

const standardWebhooks = (secret: Redacted.Redacted<string>, headers: Headers, body: Uint8Array, now: Date): Verdict => {
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    if (!headers[name]) return Either.left(`Missing the ${name} header`)
  }
  const timestamp = headers["webhook-timestamp"]!
  if (!/^\d{1,12}$/.test(timestamp)) return notVerified("webhook-timestamp must be Unix seconds")
  const age = now.getTime() / 1000 - Number(timestamp)
  if (age > toleranceSeconds) return notVerified("the message timestamp is too old (more than 5 minutes)")
  if (age < -toleranceSeconds) return notVerified("the message timestamp is too new (more than 5 minutes ahead)")
  // The number, not the header's text: senders sign the timestamp as a number (no leading zeros).
  const signed = Buffer.concat([Buffer.from(`${headers["webhook-id"]}.${Number(timestamp)}.`), body])
  const expected = createHmac("sha256", standardWebhooksKey(secret)).update(signed).digest()
  // Several signatures may be sent (a sender rotating its key); one that holds is enough.
  const holds = headers["webhook-signature"]!.split(" ").some((versioned) => {
    const signature = versioned.startsWith("v1,") ? versioned.slice(3) : ""
    return base64Signature.test(signature) && timingSafeEqual(Buffer.from(signature, "base64"), expected)
  })
  return holds ? valid : notVerified("No matching signature found")
}

const github = (secret: Redacted.Redacted<string>, headers: Headers, body: Uint8Array): Verdict => {
  const header = headers["x-hub-signature-256"]
  if (!header) return Either.left("Missing the X-Hub-Signature-256 header")
  if (!header.startsWith("sha256=")) return Either.left("X-Hub-Signature-256 must look like sha256=<hex>")
  return equalHex(header.slice(7), hmac(secret, body))
    ? valid
    : Either.left("The X-Hub-Signature-256 signature does not match the body")
}

const slack = (secret: Redacted.Redacted<string>, headers: Headers, body: Uint8Array, now: Date): Verdict => {
  const timestamp = headers["x-slack-request-timestamp"]
  const signature = headers["x-slack-signature"]
  if (!timestamp) return Either.left("Missing the X-Slack-Request-Timestamp header")
  if (!signature) return Either.left("Missing the X-Slack-Signature header")
  if (!/^\d{1,12}$/.test(timestamp)) return Either.left("X-Slack-Request-Timestamp must be Unix seconds")
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > toleranceSeconds) {
    return Either.left("X-Slack-Request-Timestamp is more than 5 minutes off")
  }
  if (!signature.startsWith("v0=")) return Either.left("X-Slack-Signature must look like v0=<hex>")
  const base = Buffer.concat([Buffer.from(`v0:${timestamp}:`), body])
  return equalHex(signature.slice(3), hmac(secret, base))
    ? valid
    : Either.left("The X-Slack-Signature signature does not match the body")
}

export const verify = (
  type: ChannelType,
  secret: Redacted.Redacted<string>,
  headers: Headers,
  body: Uint8Array,
  /** What time it is, for the timestamps' tolerance. */
  now: Date
): Verdict => {
  switch (type) {
    case "webhook":
    case "email":
      return standardWebhooks(secret, headers, body, now)
    case "github":
      return github(secret, headers, body)
    case "slack":
      return slack(secret, headers, body, now)
  }
}

/**
 * Whether a secret given for a channel of `type` can sign anything: Standard Webhooks
 * secrets are base64 (optionally `whsec_`-prefixed) keys; GitHub and Slack take any string.
 */
export const isUsableSecret = (type: ChannelType, secret: Redacted.Redacted<string>): boolean => {
  if (type !== "webhook" && type !== "email") return true
  try {
    new Webhook(Redacted.value(secret))
    return /^(whsec_)?[A-Za-z0-9+/]+={0,2}$/.test(Redacted.value(secret))
  } catch {
    return false
  }
}

/**
 * A new signing secret for a channel of `type`: a Standard Webhooks `whsec_` secret for
 * webhook and email senders, a hex secret to paste into GitHub's webhook form. Slack makes
 * its own, which the admin gives us.
 */
export const generateSecret = (type: Exclude<ChannelType, "slack">): Redacted.Redacted<string> =>
  Redacted.make(
    type === "github" ? randomBytes(32).toString("hex") : `whsec_${randomBytes(32).toString("base64")}`
  )
