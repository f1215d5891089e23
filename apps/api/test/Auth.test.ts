/**
 * Signing in, refreshing, signing out, throttling and the access checks, on the real API
 * with a real database. Failed sign-ins come "from" addresses of their own (X-Forwarded-For,
 * trusted here as behind the proxy) so the per-address throttle of one test does not reach
 * into the next. The refresh grace window and the sign-in slow-down are short here, so the
 * tests can wait them out.
 */
import { expect, layer } from "@effect/vitest"
import { AccessTokens } from "@nestfleet/core/AccessTokens"
import * as Database from "@nestfleet/db/Database"
import { Duration, Effect, Redacted } from "effect"
import { randomBytes, scryptSync } from "node:crypto"
import * as AuthFlows from "./AuthFlows.js"
import * as TestServer from "./TestServer.js"

const addressLimit = 8
const graceSeconds = 5
const slowdownMaxSeconds = 1
const serverLayer = TestServer.layer(undefined, {
  config: {
    TRUST_PROXY: "true",
    LOGIN_MAX_FAILURES_PER_ADDRESS: String(addressLimit),
    REFRESH_REUSE_GRACE_SECONDS: String(graceSeconds),
    LOGIN_SLOWDOWN_MAX_SECONDS: String(slowdownMaxSeconds)
  }
})

let addresses = 0
/** Headers for a request from an address no other request used. */
const fromNewAddress = () => ({ "x-forwarded-for": `198.51.100.${++addresses}` })

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => ({ ms: Duration.toMillis(duration), value }))

layer(serverLayer, { excludeTestServices: true, timeout: 120_000 })("auth", (it) => {
  it.effect("sign-in answers an access token, the user, and an httpOnly strict refresh cookie for the auth routes", () =>
    Effect.gen(function*() {
      const before = Date.now()
      const response = yield* AuthFlows.login(TestServer.admin)
      expect(response.status).toBe(200)
      const body = response.body as { accessToken: string; expiresAt: string; user: Record<string, unknown> }
      expect(body.accessToken.split(".")).toHaveLength(3)
      const lifetime = Date.parse(body.expiresAt) - before
      expect(lifetime).toBeGreaterThan(14 * 60_000)
      expect(lifetime).toBeLessThanOrEqual(15 * 60_000 + 5_000)
      expect(body.user).toMatchObject({ email: TestServer.admin.email, name: "Admin", roles: ["admin"] })
      expect(Object.keys(body.user).sort()).toEqual(["email", "id", "name", "roles"])

      const cookie = AuthFlows.refreshCookieOf(response.headers)!
      expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(cookie.attributes).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Secure", "Path=/api/v1/auth"]))
      const maxAge = Number(cookie.attributes.find((attribute) => attribute.startsWith("Max-Age="))?.slice(8))
      expect(maxAge).toBeGreaterThan(29 * 24 * 3600)
      expect(maxAge).toBeLessThanOrEqual(30 * 24 * 3600)
      // The refresh token travels in the cookie only.
      expect(JSON.stringify(response.body)).not.toContain(cookie.value)

      const me = yield* AuthFlows.call(body.accessToken, "/api/v1/auth/me")
      expect(me.status).toBe(200)
      expect(me.body).toEqual(body.user)
    }))

  it.effect("the email matches whatever its case and surrounding spaces", () =>
    Effect.gen(function*() {
      const response = yield* AuthFlows.login({ ...TestServer.admin, email: ` ${TestServer.admin.email.toUpperCase()} ` })
      expect(response.status).toBe(200)
    }))

  it.effect("a wrong password and an unknown email get the same answer, in similar time", () =>
    Effect.gen(function*() {
      const wrongPassword = { email: TestServer.admin.email, password: "not-the-admin-password" }
      const unknownEmail = { email: "nobody@nestfleet.test", password: "not-the-admin-password" }
      const wrong = []
      const unknown = []
      for (let i = 0; i < 3; i++) {
        wrong.push(yield* timed(AuthFlows.login(wrongPassword, fromNewAddress())))
        unknown.push(yield* timed(AuthFlows.login(unknownEmail, fromNewAddress())))
      }
      for (const { value } of [...wrong, ...unknown]) {
        expect(value.status).toBe(401)
        expect(value.refreshToken).toBeUndefined()
        const { requestId: _, ...body } = value.body as Record<string, unknown>
        expect(body).toEqual({ _tag: "InvalidCredentials", message: "The email or the password is wrong" })
      }
      // Both pay for a password hash; neither returns early.
      const ratio = median(wrong.map((attempt) => attempt.ms)) / median(unknown.map((attempt) => attempt.ms))
      expect(ratio).toBeGreaterThan(0.5)
      expect(ratio).toBeLessThan(2)
      // Three failures for the email are below the slow-down: the right password answers at once.
      expect((yield* AuthFlows.login(TestServer.admin)).status).toBe(200)
    }))

  it.effect("refresh trades the cookie for a new access token and a rotated cookie", () =>
    Effect.gen(function*() {
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const refreshed = yield* AuthFlows.refresh(signedIn.refreshToken)
      expect(refreshed.status).toBe(200)
      const body = refreshed.body as { accessToken: string; user: { email: string } }
      expect(body.user.email).toBe(TestServer.admin.email)
      expect(body.accessToken).not.toBe(signedIn.accessToken)
      expect(refreshed.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(refreshed.refreshToken).not.toBe(signedIn.refreshToken)
      expect((yield* AuthFlows.call(body.accessToken, "/api/v1/auth/me")).status).toBe(200)

      const again = yield* AuthFlows.refresh(refreshed.refreshToken)
      expect(again.status).toBe(200)
    }))

  it.effect("within the grace window the just-rotated token answers the same successor and a fresh access token", () =>
    Effect.gen(function*() {
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const first = yield* AuthFlows.refresh(signedIn.refreshToken)
      expect(first.status).toBe(200)
      const again = yield* AuthFlows.refresh(signedIn.refreshToken)
      expect(again.status).toBe(200)
      expect(again.refreshToken).toBe(first.refreshToken)
      const access = (again.body as { accessToken: string }).accessToken
      expect(access).not.toBe((first.body as { accessToken: string }).accessToken)
      expect((yield* AuthFlows.call(access, "/api/v1/auth/me")).status).toBe(200)
      // The successor goes on as any refresh token does.
      const next = yield* AuthFlows.refresh(first.refreshToken)
      expect(next.status).toBe(200)
      expect(next.refreshToken).not.toBe(first.refreshToken)
    }))

  it.effect("five parallel refreshes with one cookie all answer the same successor, and the session lives on", () =>
    Effect.gen(function*() {
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const results = yield* Effect.all(
        Array.from({ length: 5 }, () => AuthFlows.refresh(signedIn.refreshToken)),
        { concurrency: "unbounded" }
      )
      expect(results.map((result) => result.status)).toEqual([200, 200, 200, 200, 200])
      const successors = new Set(results.map((result) => result.refreshToken))
      expect(successors.size).toBe(1)
      for (const result of results) {
        expect((yield* AuthFlows.call((result.body as { accessToken: string }).accessToken, "/api/v1/auth/me")).status)
          .toBe(200)
      }
      const next = yield* AuthFlows.refresh(results[0]!.refreshToken)
      expect(next.status).toBe(200)
      expect((yield* AuthFlows.call((next.body as { accessToken: string }).accessToken, "/api/v1/auth/me")).status)
        .toBe(200)
    }))

  it.effect("a refresh token presented again after the grace window revokes its whole session", () =>
    Effect.gen(function*() {
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const first = yield* AuthFlows.refresh(signedIn.refreshToken)
      expect(first.status).toBe(200)
      const latestAccess = (first.body as { accessToken: string }).accessToken

      yield* Effect.sleep(Duration.millis(graceSeconds * 1000 + 300))
      const reuse = yield* AuthFlows.refresh(signedIn.refreshToken)
      expect(reuse.status).toBe(401)
      expect(reuse.body).toMatchObject({ _tag: "InvalidRefreshToken" })
      // The cookie is cleared, and everything descended from that sign-in is dead.
      expect(AuthFlows.refreshCookieOf(reuse.headers)?.attributes).toEqual(
        expect.arrayContaining([expect.stringMatching(/^Max-Age=0$|^Expires=Thu, 01 Jan 1970/)])
      )
      expect((yield* AuthFlows.refresh(first.refreshToken)).status).toBe(401)
      expect((yield* AuthFlows.call(latestAccess, "/api/v1/auth/me")).status).toBe(401)
      expect((yield* AuthFlows.call(signedIn.accessToken, "/api/v1/auth/me")).status).toBe(401)

      // Another sign-in of the same user is untouched.
      const other = yield* AuthFlows.signIn(TestServer.admin)
      expect((yield* AuthFlows.call(other.accessToken, "/api/v1/auth/me")).status).toBe(200)
    }))

  it.effect("refresh without a cookie, or with a made-up one, answers 401", () =>
    Effect.gen(function*() {
      for (const token of [undefined, "x".repeat(43), "short", ""]) {
        const response = yield* AuthFlows.refresh(token)
        expect(response.status).toBe(401)
        expect(response.body).toMatchObject({ _tag: "InvalidRefreshToken" })
      }
    }))

  it.effect("a signed-out session refuses its just-rotated token, inside the grace window too", () =>
    Effect.gen(function*() {
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const first = yield* AuthFlows.refresh(signedIn.refreshToken)
      expect(first.status).toBe(200)
      expect((yield* AuthFlows.logout({ refreshToken: first.refreshToken! })).status).toBe(204)
      expect((yield* AuthFlows.refresh(signedIn.refreshToken)).status).toBe(401)
      expect((yield* AuthFlows.refresh(first.refreshToken)).status).toBe(401)
    }))

  /** The cookie a logout answer sets is cleared: empty, and expired at once. */
  const expectCleared = (cookie: ReturnType<typeof AuthFlows.refreshCookieOf>) => {
    expect(cookie?.value).toBe("")
    expect(cookie?.attributes).toContain("Path=/api/v1/auth")
    expect(cookie?.attributes).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Max-Age=0$|^Expires=Thu, 01 Jan 1970/)])
    )
  }

  it.effect("logout with the access token alone revokes the session — access token and refresh cookie", () =>
    Effect.gen(function*() {
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const logout = yield* AuthFlows.logout({ accessToken: signedIn.accessToken })
      expect(logout.status).toBe(204)
      expectCleared(logout.refreshCookie)
      expect((yield* AuthFlows.call(signedIn.accessToken, "/api/v1/auth/me")).status).toBe(401)
      expect((yield* AuthFlows.refresh(signedIn.refreshToken)).status).toBe(401)
      // Signing out again is harmless.
      expect((yield* AuthFlows.logout({ accessToken: signedIn.accessToken })).status).toBe(204)
    }))

  it.effect("logout with the refresh cookie alone (the access token expired) ends the session and clears the cookie", () =>
    Effect.gen(function*() {
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const refreshed = yield* AuthFlows.refresh(signedIn.refreshToken)
      const logout = yield* AuthFlows.logout({ refreshToken: refreshed.refreshToken! })
      expect(logout.status).toBe(204)
      expectCleared(logout.refreshCookie)
      expect((yield* AuthFlows.refresh(refreshed.refreshToken)).status).toBe(401)
      const access = (refreshed.body as { accessToken: string }).accessToken
      expect((yield* AuthFlows.call(access, "/api/v1/auth/me")).status).toBe(401)
      expect((yield* AuthFlows.call(signedIn.accessToken, "/api/v1/auth/me")).status).toBe(401)
    }))

  it.effect("logout with neither credential, or with ones that name nothing, answers 204 and clears the cookie", () =>
    Effect.gen(function*() {
      const other = yield* AuthFlows.signIn(TestServer.admin)
      for (const credentials of [{}, { refreshToken: "x".repeat(43) }, { accessToken: "not-a-jwt" }]) {
        const logout = yield* AuthFlows.logout(credentials)
        expect(logout.status).toBe(204)
        expectCleared(logout.refreshCookie)
      }
      expect((yield* AuthFlows.call(other.accessToken, "/api/v1/auth/me")).status).toBe(200)
    }))

  it.effect("expired, tampered, foreign and alg:none tokens answer 401", () =>
    Effect.gen(function*() {
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const [header, payload, signature] = signedIn.accessToken.split(".") as [string, string, string]
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString())
      const expired = yield* AuthFlows.accessTokenIssuedAt(
        TestServer.jwtSecret,
        { userId: claims.sub, sessionId: claims.sid },
        Date.now() - 60 * 60_000
      )
      const foreign = AccessTokens.fromSecret(new TextEncoder().encode("another-secret-of-at-least-32-bytes!!"))
      const foreignToken = yield* foreign.issue({ userId: claims.sub, sessionId: claims.sid })
      const promoted = Buffer.from(JSON.stringify({ ...claims, sub: "00000000-0000-4000-8000-000000000000" }))
        .toString("base64url")
      const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")
      const flipped = signature.slice(0, -2) + (signature.slice(-2) === "AA" ? "BA" : "AA")
      const tokens = {
        expired,
        tampered: `${header}.${promoted}.${signature}`,
        badSignature: `${header}.${payload}.${flipped}`,
        foreign: Redacted.value(foreignToken.token),
        none: `${none}.${payload}.`,
        garbage: "not-a-jwt"
      }
      for (const [name, token] of Object.entries(tokens)) {
        const response = yield* AuthFlows.call(token, "/api/v1/auth/me")
        expect([name, response.status]).toEqual([name, 401])
        expect(response.body).toMatchObject({ _tag: "Unauthorized" })
      }
      const missing = yield* TestServer.request("/api/v1/auth/me")
      expect(missing.status).toBe(401)
      expect((yield* AuthFlows.call(signedIn.accessToken, "/api/v1/auth/me")).status).toBe(200)
    }))

  it.effect("disabling a user refuses their token at once and ends their sessions", () =>
    Effect.gen(function*() {
      const admin = yield* AuthFlows.signIn(TestServer.admin)
      const agent = { email: "disabled.agent@nestfleet.test", password: "agent-password-123" }
      const agentId = yield* AuthFlows.createUser(admin.accessToken, { ...agent, roles: ["agent"] })
      const signedIn = yield* AuthFlows.signIn(agent)
      expect((yield* AuthFlows.call(signedIn.accessToken, "/api/v1/auth/me")).status).toBe(200)

      const disable = yield* AuthFlows.call(admin.accessToken, `/api/v1/users/${agentId}`, {
        method: "PATCH",
        body: { disabled: true }
      })
      expect(disable.status).toBe(200)
      expect((yield* AuthFlows.call(signedIn.accessToken, "/api/v1/auth/me")).status).toBe(401)
      expect((yield* AuthFlows.refresh(signedIn.refreshToken)).status).toBe(401)
      const again = yield* AuthFlows.login(agent, fromNewAddress())
      expect(again.status).toBe(401)
      expect(again.body).toMatchObject({ _tag: "InvalidCredentials" })

      yield* AuthFlows.call(admin.accessToken, `/api/v1/users/${agentId}`, { method: "PATCH", body: { disabled: false } })
      expect((yield* AuthFlows.login(agent)).status).toBe(200)
    }))

  it.effect("failed sign-ins for one email from one address answer 429 there; the owner still signs in from another", () =>
    Effect.gen(function*() {
      const admin = yield* AuthFlows.signIn(TestServer.admin)
      const user = { email: "throttled@nestfleet.test", password: "right-password-1234" }
      yield* AuthFlows.createUser(admin.accessToken, { ...user, roles: ["viewer"] })
      const attacker = fromNewAddress()
      for (let i = 0; i < 5; i++) {
        expect((yield* AuthFlows.login({ ...user, password: `wrong-password-${i}` }, attacker)).status).toBe(401)
      }
      const blocked = yield* AuthFlows.login(user, attacker)
      expect(blocked.status).toBe(429)
      expect(blocked.body).toMatchObject({ _tag: "TooManyLoginAttempts" })
      const retryAfter = Number(blocked.headers.get("retry-after"))
      expect(retryAfter).toBeGreaterThan(14 * 60)
      expect(retryAfter).toBeLessThanOrEqual(15 * 60)
      expect((blocked.body as { retryAfterSeconds: number }).retryAfterSeconds).toBe(retryAfter)

      // The owner, elsewhere, is not locked out by the attacker's failures.
      const owner = yield* AuthFlows.login(user, fromNewAddress())
      expect(owner.status).toBe(200)
      // ...and signing in does not lift the attacker's block.
      expect((yield* AuthFlows.login(user, attacker)).status).toBe(429)

      // An unknown email is throttled the same way, so the throttle tells nothing either.
      const nobody = { email: "nobody.throttled@nestfleet.test", password: "whatever-password" }
      const guesser = fromNewAddress()
      for (let i = 0; i < 5; i++) expect((yield* AuthFlows.login(nobody, guesser)).status).toBe(401)
      expect((yield* AuthFlows.login(nobody, guesser)).status).toBe(429)
    }))

  it.effect("parallel wrong passwords from one address get no more tries than sequential ones", () =>
    Effect.gen(function*() {
      const address = fromNewAddress()
      const results = yield* Effect.all(
        Array.from({ length: 12 }, (_, i) =>
          AuthFlows.login({ email: "parallel@nestfleet.test", password: `guess-number-${i}` }, address)),
        { concurrency: "unbounded" }
      )
      const statuses = results.map((result) => result.status).sort()
      expect(statuses).toEqual([...Array(5).fill(401), ...Array(7).fill(429)])
    }))

  it.effect("failures for an email from many addresses slow its sign-ins down, for a bounded time, without blocking them", () =>
    Effect.gen(function*() {
      const admin = yield* AuthFlows.signIn(TestServer.admin)
      const user = { email: "slowed@nestfleet.test", password: "right-password-5678" }
      yield* AuthFlows.createUser(admin.accessToken, { ...user, roles: ["viewer"] })
      const unknown = { email: "nobody.slowed@nestfleet.test", password: "whatever-password" }
      for (const email of [user.email, unknown.email]) {
        for (let i = 0; i < 5; i++) {
          expect((yield* AuthFlows.login({ email, password: `wrong-password-${i}` }, fromNewAddress())).status).toBe(401)
        }
      }
      const owner = yield* timed(AuthFlows.login(user, fromNewAddress()))
      expect(owner.value.status).toBe(200)
      const guess = yield* timed(AuthFlows.login(unknown, fromNewAddress()))
      expect(guess.value.status).toBe(401)
      // Both wait the same, so the slow-down does not tell which email has an account.
      for (const attempt of [owner, guess]) {
        expect(attempt.ms).toBeGreaterThanOrEqual(slowdownMaxSeconds * 1000 - 50)
        expect(attempt.ms).toBeLessThan(slowdownMaxSeconds * 1000 + 5000)
      }
    }))

  it.effect("failed sign-ins from one address answer 429, whichever emails they try", () =>
    Effect.gen(function*() {
      const address = fromNewAddress()
      for (let i = 0; i < addressLimit; i++) {
        const attempt = yield* AuthFlows.login({ email: `guess${i}@nestfleet.test`, password: "guessed-password" }, address)
        expect(attempt.status).toBe(401)
      }
      const blocked = yield* AuthFlows.login(TestServer.admin, address)
      expect(blocked.status).toBe(429)
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0)
      // The proxy appends the real address; what a client puts before it is not trusted.
      const spoofed = yield* AuthFlows.login(TestServer.admin, {
        "x-forwarded-for": `203.0.113.77, ${address["x-forwarded-for"]}`
      })
      expect(spoofed.status).toBe(429)
      expect((yield* AuthFlows.login(TestServer.admin, fromNewAddress())).status).toBe(200)
    }))

  it.effect("a password hashed with older parameters is re-hashed with today's at the next sign-in", () =>
    Effect.gen(function*() {
      const { pool } = yield* Database.Database
      const query = (text: string, values: ReadonlyArray<unknown>) => Effect.promise(() => pool.query(text, [...values]))
      const admin = yield* AuthFlows.signIn(TestServer.admin)
      const user = { email: "old.hash@nestfleet.test", password: "an-old-hashed-password" }
      const id = yield* AuthFlows.createUser(admin.accessToken, { ...user, roles: ["viewer"] })
      const salt = randomBytes(16)
      const weak = scryptSync(user.password, salt, 64, { N: 1024, r: 8, p: 1 })
      const oldHash = `scrypt$N=1024,r=8,p=1$${salt.toString("base64")}$${weak.toString("base64")}`
      yield* query("update users set password_hash = $1 where id = $2", [oldHash, id])
      const hashOf = Effect.map(
        query("select password_hash from users where id = $1", [id]),
        (result) => result.rows[0]!.password_hash as string
      )

      expect((yield* AuthFlows.login(user)).status).toBe(200)
      const rehashed = yield* hashOf
      expect(rehashed).toMatch(/^scrypt\$N=32768,r=8,p=1\$/)
      expect((yield* AuthFlows.login(user)).status).toBe(200)
      expect(yield* hashOf).toBe(rehashed)
    }))

  it.effect("a user changes their own password: the current one is checked, their other sessions end", () =>
    Effect.gen(function*() {
      const admin = yield* AuthFlows.signIn(TestServer.admin)
      const user = { email: "changer@nestfleet.test", password: "first-password-123" }
      yield* AuthFlows.createUser(admin.accessToken, { ...user, roles: ["viewer"] })
      const here = yield* AuthFlows.signIn(user)
      const elsewhere = yield* AuthFlows.signIn(user)

      const wrong = yield* AuthFlows.call(here.accessToken, "/api/v1/auth/password", {
        method: "POST",
        body: { currentPassword: "not-my-password", newPassword: "second-password-123" }
      })
      expect(wrong.status).toBe(400)
      expect(wrong.body).toMatchObject({ _tag: "CurrentPasswordIncorrect" })

      const weak = yield* AuthFlows.call(here.accessToken, "/api/v1/auth/password", {
        method: "POST",
        body: { currentPassword: user.password, newPassword: "short-pw" }
      })
      expect(weak.status).toBe(400)
      expect(JSON.stringify(weak.body)).toContain("at least 12 characters")
      expect(JSON.stringify(weak.body)).not.toContain("short-pw")

      const changed = yield* AuthFlows.call(here.accessToken, "/api/v1/auth/password", {
        method: "POST",
        body: { currentPassword: user.password, newPassword: "second-password-123" }
      })
      expect(changed.status).toBe(204)
      expect((yield* AuthFlows.call(here.accessToken, "/api/v1/auth/me")).status).toBe(200)
      expect((yield* AuthFlows.call(elsewhere.accessToken, "/api/v1/auth/me")).status).toBe(401)
      expect((yield* AuthFlows.login(user, fromNewAddress())).status).toBe(401)
      expect((yield* AuthFlows.login({ ...user, password: "second-password-123" })).status).toBe(200)
    }))
})
