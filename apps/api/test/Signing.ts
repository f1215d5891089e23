/**
 * Signing deliveries the way each sender does, written out by hand (not with the library
 * the server verifies with), so the tests check the schemes rather than agree with themselves.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto"

export type Signed = { readonly headers: Record<string, string>; readonly body: string }

/** Standard Webhooks: `v1,<base64 HMAC-SHA256(base64-decoded whsec_ key, "<id>.<ts>.<body>")>`. */
export const standardWebhooks = (
  secret: string,
  payload: unknown,
  options: { readonly id?: string; readonly timestamp?: number } = {}
): Signed => {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload)
  const id = options.id ?? `msg_${randomUUID()}`
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000)
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64")
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")
  return {
    body,
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": `v1,${signature}`
    }
  }
}

/** GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. */
export const github = (secret: string, event: string, body: string, delivery: string = randomUUID()): Signed => ({
  body,
  headers: {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": delivery,
    "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`
  }
})

/** Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:<ts>:<body>")>`. */
export const slack = (secret: string, payload: unknown, timestamp: number = Math.floor(Date.now() / 1000)): Signed => {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload)
  return {
    body,
    headers: {
      "content-type": "application/json",
      "x-slack-request-timestamp": String(timestamp),
      "x-slack-signature": `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`
    }
  }
}

/**
 * Whether a request carries a valid Standard Webhooks signature, checked from the
 * specification: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, fresh within 5 minutes.
 */
export const verifiesStandardWebhooks = (secret: string, headers: Record<string, string | Array<string> | undefined>, body: string) => {
  const [id, timestamp, signature] = [headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]]
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signature !== "string") return false
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64")
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest()
  return signature.split(" ").some((versioned) => {
    const given = Buffer.from(versioned.replace(/^v1,/, ""), "base64")
    return versioned.startsWith("v1,") && given.length === expected.length && timingSafeEqual(given, expected)
  })
}
