/**
 * No API response and no log line carries a password, the secret part of a token, a
 * password hash, the server's keys or a decrypted secret (a channel's signing secret,
 * outside the two answers that hand it to its admin) — checked over every auth flow and
 * the channel flows, with every log line down to `trace` captured.
 */
import { expect, layer } from "@effect/vitest"
import { SecretCipher } from "@nestfleet/core/SecretCipher"
import * as Logging from "@nestfleet/observability/Logging"
import { Effect, Layer, Redacted } from "effect"
import { Writable } from "node:stream"
import * as AuthFlows from "./AuthFlows.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const encryptionKey = "3f".repeat(32)
const config = { LOG_LEVEL: "trace", ENCRYPTION_KEY: encryptionKey }

const logLines: Array<string> = []
const logSink = new Writable({
  write(chunk, _encoding, callback) {
    logLines.push(...String(chunk).split("\n").filter((line) => line.trim() !== ""))
    callback()
  }
})

const serverLayer = TestServer.layer(undefined, { config }).pipe(
  Layer.provide(Logging.layer({ destination: logSink })),
  Layer.provide(TestServer.config(config))
)

interface Seen {
  readonly status: number
  readonly headers: Headers
  readonly body: unknown
}

layer(serverLayer, { excludeTestServices: true, timeout: 120_000 })("secrets", (it) => {
  it.effect("never appear in a response or a log line, whatever the flow", () =>
    Effect.gen(function*() {
      const responses: Array<Seen> = []
      const seen = <A extends Seen>(response: A) => {
        responses.push(response)
        return response
      }
      const user = { email: "secretive@example.com", password: "user-password-secret-1" }
      const newPassword = "changed-password-secret-2"
      const resetPassword = "reset-password-secret-3"
      const wrongPassword = "wrong-password-secret-4"

      const admin = seen(yield* AuthFlows.login(TestServer.admin))
      const adminToken = (admin.body as { accessToken: string }).accessToken
      seen(yield* AuthFlows.call(adminToken, "/api/v1/users", { method: "POST", body: { ...user, name: "S", roles: ["agent"] } }))
      const userId = ((seen(yield* AuthFlows.call(adminToken, "/api/v1/users")).body as { items: Array<{ id: string; email: string }> })
        .items.find((item) => item.email === user.email))!.id
      seen(yield* AuthFlows.login({ ...user, password: wrongPassword }))
      seen(yield* AuthFlows.login({ email: "unknown@example.com", password: wrongPassword }))
      const signedIn = seen(yield* AuthFlows.login(user))
      const userToken = (signedIn.body as { accessToken: string }).accessToken
      const refreshed = seen(yield* AuthFlows.refresh(signedIn.refreshToken))
      seen(yield* AuthFlows.refresh(signedIn.refreshToken)) // again within the reuse grace window: the same successor
      const again = seen(yield* AuthFlows.login(user))
      const againToken = (again.body as { accessToken: string }).accessToken
      seen(yield* AuthFlows.call(againToken, "/api/v1/auth/password", {
        method: "POST",
        body: { currentPassword: wrongPassword, newPassword }
      }))
      seen(yield* AuthFlows.call(againToken, "/api/v1/auth/password", {
        method: "POST",
        body: { currentPassword: user.password, newPassword: "short" }
      }))
      seen(yield* AuthFlows.call(againToken, "/api/v1/auth/password", {
        method: "POST",
        body: { currentPassword: user.password, newPassword }
      }))
      seen(yield* AuthFlows.call(adminToken, `/api/v1/users/${userId}/password`, {
        method: "POST",
        body: { password: resetPassword }
      }))
      seen(yield* AuthFlows.call(userToken, "/api/v1/auth/me"))
      seen(yield* AuthFlows.call(`${userToken}x`, "/api/v1/auth/me"))
      seen(yield* AuthFlows.call(adminToken, "/api/v1/auth/logout", { method: "POST" }))

      // A channel's signing secret: answered once at creation and once at rotation, then
      // decrypted for every delivery — and never seen again in a response or a log.
      const channelAdmin = yield* AuthFlows.signIn(TestServer.admin)
      const channelAdminToken = channelAdmin.accessToken
      const product = seen(yield* AuthFlows.call(channelAdminToken, "/api/v1/products", {
        method: "POST",
        body: { name: "Secretive", slug: "secretive" }
      }))
      const productId = (product.body as { id: string }).id
      const created = yield* AuthFlows.call(channelAdminToken, `/api/v1/products/${productId}/channels`, {
        method: "POST",
        body: { type: "webhook", name: "Signed" }
      })
      const { channel, secret: channelSecret } = created.body as { channel: { id: string }; secret: string }
      const rotated = yield* AuthFlows.call(channelAdminToken, `/api/v1/channels/${channel.id}/rotate-secret`, {
        method: "POST",
        body: {}
      })
      const rotatedSecret = (rotated.body as { secret: string }).secret
      seen(yield* AuthFlows.call(channelAdminToken, `/api/v1/products/${productId}/channels`))
      seen(yield* AuthFlows.call(channelAdminToken, `/api/v1/channels/${channel.id}`, { method: "PATCH", body: { name: "Renamed" } }))
      const delivered = yield* Effect.forEach([channelSecret, rotatedSecret], (secret) => {
        const signed = Signing.standardWebhooks(secret, {
          externalId: `secret-${secret.slice(-6)}`,
          subject: "Signed",
          body: "A signed message",
          customer: {}
        })
        return TestServer.request(`/api/v1/webhooks/${channel.id}`, { method: "POST", headers: signed.headers, body: signed.body })
      })
      expect(delivered.map((response) => response.status)).toEqual([401, 202])
      delivered.forEach(seen)
      const slackSecret = "slack-signing-secret-kept-quiet"
      const slack = yield* AuthFlows.call(channelAdminToken, `/api/v1/products/${productId}/channels`, {
        method: "POST",
        body: { type: "slack", name: "Slack", secret: slackSecret }
      })
      expect(slack.status).toBe(201)

      // A secret at rest, decrypted and then logged the way careless code would.
      const cipher = SecretCipher.fromKey(Buffer.from(encryptionKey, "hex"))
      const stored = yield* cipher.encrypt(Redacted.make("integration-token-secret-5"))
      const decrypted = yield* cipher.decrypt(stored)
      yield* Effect.logInfo("Decrypted an integration secret", decrypted).pipe(
        Effect.annotateLogs({ token: Redacted.value(decrypted), secret: decrypted })
      )
      const tampered = yield* Effect.flip(cipher.decrypt(`${stored.slice(0, -4)}AAAA`))
      yield* Effect.logError("Decryption failed", tampered)

      const refreshTokens = responses.flatMap((response) => {
        const cookie = AuthFlows.refreshCookieOf(response.headers)?.value
        return cookie === undefined || cookie === "" ? [] : [cookie]
      })
      expect(refreshTokens.length).toBeGreaterThanOrEqual(4)
      const accessTokens = [adminToken, channelAdminToken, userToken, againToken, (refreshed.body as { accessToken: string }).accessToken]
      const signatures = accessTokens.map((token) => token.split(".")[2]!)
      const never = [
        TestServer.admin.password,
        user.password,
        newPassword,
        resetPassword,
        wrongPassword,
        "integration-token-secret-5",
        TestServer.jwtSecret,
        encryptionKey,
        "scrypt$",
        channelSecret,
        rotatedSecret,
        channelSecret.slice(6),
        rotatedSecret.slice(6),
        slackSecret,
        ...refreshTokens,
        channelAdmin.refreshToken
      ]

      // Responses: bodies and headers, except the cookie that is the refresh token's one place.
      for (const response of responses) {
        const headers = [...response.headers].filter(([name]) => name !== "set-cookie")
        const text = JSON.stringify([response.body, headers])
        for (const secret of never) expect([text.includes(secret), secret]).toEqual([false, secret])
      }
      // Logs: none of the above, and no access token either, not even its signature.
      const logs = logLines.join("\n")
      expect(logs).toContain("Decrypted an integration secret") // the capture works
      expect(logs).toContain("Sent HTTP response")
      for (const secret of [...never, ...accessTokens, ...signatures]) {
        expect([logs.includes(secret), secret]).toEqual([false, secret])
      }
    }))
})
