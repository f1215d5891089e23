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
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { Duration, Effect, Fiber, Redacted, Schedule } from "effect"
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

/** The session (refresh-token family) an access token names. */
const sessionIdOf = (accessToken: string) =>
  JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()).sid as string

/** Waits until `count` statements of the test database wait for a lock (a request queued behind the test). */
const waitingForLocks = (pool: Database.Database["Type"]["pool"], count: number) =>
  Effect.promise(() =>
    pool.query("select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")
  ).pipe(
    Effect.map((result) => result.rows[0].n as number),
    Effect.repeat({ until: (n) => n >= count, schedule: Schedule.spaced("20 millis") }),
    Effect.timeout("10 seconds")
  )

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

  it.effect.skipIf(TestDatabase.mode === "embedded")(
    "a token refreshed inside its grace window alongside its successor's refresh never deadlocks: no 5xx, one outcome (PostgreSQL server only: the embedded database has one connection, so refreshes cannot overlap)",
    () =>
      Effect.gen(function*() {
        const me = (response: { readonly body: unknown }) =>
          AuthFlows.call((response.body as { accessToken: string }).accessToken, "/api/v1/auth/me")
        for (let round = 0; round < 30; round++) {
          const signedIn = yield* AuthFlows.signIn(TestServer.admin)
          const first = yield* AuthFlows.refresh(signedIn.refreshToken)
          expect(first.status).toBe(200)
          // Every other round, each token twice: both copies of each race both of the other's.
          const presented = round % 2 === 0
            ? [signedIn.refreshToken, first.refreshToken!]
            : [signedIn.refreshToken, first.refreshToken!, signedIn.refreshToken, first.refreshToken!]
          const results = yield* Effect.all(presented.map(AuthFlows.refresh), { concurrency: "unbounded" })
          expect(results.map((result) => result.status).filter((status) => status !== 200 && status !== 401)).toEqual([])
          const ofFirst = results.filter((_, i) => presented[i] === signedIn.refreshToken)
          const ofSuccessor = results.filter((_, i) => presented[i] === first.refreshToken)
          // The successor's refreshes answer one token, its own successor; the first token's, the successor once more.
          const next = new Set(ofSuccessor.filter((result) => result.status === 200).map((result) => result.refreshToken))
          expect(next.size).toBeLessThanOrEqual(1)
          for (const result of ofFirst.filter((result) => result.status === 200)) {
            expect(result.refreshToken).toBe(first.refreshToken)
          }
          if (ofFirst.every((result) => result.status === 200)) {
            // The first token came while its successor was live: the session goes on.
            expect(ofSuccessor.map((result) => result.status)).toEqual(ofSuccessor.map(() => 200))
            const after = yield* AuthFlows.refresh([...next][0])
            expect(after.status).toBe(200)
            expect((yield* me(after)).status).toBe(200)
          } else {
            // It came after the successor was traded: a reuse, and the whole session is revoked.
            for (const result of ofSuccessor.filter((result) => result.status === 200)) {
              expect((yield* me(result)).status).toBe(401)
            }
            if (next.size === 1) expect((yield* AuthFlows.refresh([...next][0])).status).toBe(401)
          }
        }
      })
  )

  it.effect.skipIf(TestDatabase.mode === "embedded")(
    "a password change queued behind a refresh of another session revokes what that refresh hands out (PostgreSQL server only: the test holds a row lock on a connection of its own)",
    () =>
      Effect.gen(function*() {
        const { pool } = yield* Database.Database
        const admin = yield* AuthFlows.signIn(TestServer.admin)
        const user = { email: "queued.change@nestfleet.test", password: "queued-password-1" }
        yield* AuthFlows.createUser(admin.accessToken, { ...user, roles: ["viewer"] })
        const here = yield* AuthFlows.signIn(user)
        const elsewhere = yield* AuthFlows.signIn(user)
        const [refreshed, changed] = yield* Effect.acquireUseRelease(
          Effect.promise(() => pool.connect()),
          (holder) =>
            Effect.gen(function*() {
              // The other session's live row, held here, so the refresh waits with its own locks taken.
              yield* Effect.promise(() => holder.query("begin"))
              yield* Effect.promise(() =>
                holder.query("select 1 from sessions where family_id = $1 and rotated_at is null for update", [
                  sessionIdOf(elsewhere.accessToken)
                ])
              )
              const refresh = yield* Effect.fork(AuthFlows.refresh(elsewhere.refreshToken))
              yield* waitingForLocks(pool, 1)
              const change = yield* Effect.fork(AuthFlows.call(here.accessToken, "/api/v1/auth/password", {
                method: "POST",
                body: { currentPassword: user.password, newPassword: "queued-password-2" }
              }))
              yield* waitingForLocks(pool, 2)
              yield* Effect.promise(() => holder.query("commit"))
              return [yield* Fiber.join(refresh), yield* Fiber.join(change)] as const
            }),
          (holder) => Effect.sync(() => holder.release())
        )
        expect(changed.status).toBe(204)
        expect(refreshed.status).toBe(200)
        expect((yield* AuthFlows.refresh(refreshed.refreshToken)).status).toBe(401)
        const access = (refreshed.body as { accessToken: string }).accessToken
        expect((yield* AuthFlows.call(access, "/api/v1/auth/me")).status).toBe(401)
        expect((yield* AuthFlows.call(here.accessToken, "/api/v1/auth/me")).status).toBe(200)
      })
  )

  it.effect.skipIf(TestDatabase.mode === "embedded")(
    "two reused tokens of one session presented at once both revoke it, without a deadlock (PostgreSQL server only, as above)",
    () =>
      Effect.gen(function*() {
        for (let round = 0; round < 20; round++) {
          const signedIn = yield* AuthFlows.signIn(TestServer.admin)
          const tokens = [signedIn.refreshToken]
          for (let i = 0; i < 3; i++) tokens.push((yield* AuthFlows.refresh(tokens.at(-1))).refreshToken!)
          // Inside the grace window, but each one's successor has been traded since: reuses.
          const results = yield* Effect.all([AuthFlows.refresh(tokens[0]), AuthFlows.refresh(tokens[1])], {
            concurrency: "unbounded"
          })
          expect(results.map((result) => result.status)).toEqual([401, 401])
          expect((yield* AuthFlows.refresh(tokens[3])).status).toBe(401)
        }
      })
  )

  it.effect("a sign-out that races a refresh of its session ends the session whichever comes first", () =>
    Effect.gen(function*() {
      for (let round = 0; round < 20; round++) {
        const signedIn = yield* AuthFlows.signIn(TestServer.admin)
        const [refreshed, logout] = yield* Effect.all(
          [AuthFlows.refresh(signedIn.refreshToken), AuthFlows.logout({ refreshToken: signedIn.refreshToken })],
          { concurrency: "unbounded" }
        )
        expect(logout.status).toBe(204)
        expect([200, 401]).toContain(refreshed.status)
        if (refreshed.status === 200) {
          // The refresh went first: what it handed out ended with the session.
          expect((yield* AuthFlows.refresh(refreshed.refreshToken)).status).toBe(401)
          const access = (refreshed.body as { accessToken: string }).accessToken
          expect((yield* AuthFlows.call(access, "/api/v1/auth/me")).status).toBe(401)
        }
      }
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

  it.effect("logout clears the cookie even when revoking the session fails (a 500)", () =>
    Effect.gen(function*() {
      const { pool } = yield* Database.Database
      const query = (text: string) => Effect.promise(() => pool.query(text))
      const signedIn = yield* AuthFlows.signIn(TestServer.admin)
      const familyId = sessionIdOf(signedIn.accessToken)
      // This session's rows refuse every change, so its revocation fails.
      yield* query(
        "create function refuse_session_change() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$"
      )
      yield* query(
        `create trigger refuse_session_change before update on sessions for each row
         when (old.family_id = '${familyId}') execute function refuse_session_change()`
      )
      const logout = yield* AuthFlows.logout(signedIn).pipe(
        Effect.ensuring(query("drop trigger refuse_session_change on sessions; drop function refuse_session_change()"))
      )
      expect(logout.status).toBe(500)
      expectCleared(logout.refreshCookie)
      expect((yield* AuthFlows.logout(signedIn)).status).toBe(204)
      expect((yield* AuthFlows.call(signedIn.accessToken, "/api/v1/auth/me")).status).toBe(401)
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

  it.effect("every spelling of an email the database takes for one account counts against it together", () =>
    Effect.gen(function*() {
      const { pool } = yield* Database.Database
      // U+0130: JavaScript lowers it to i and a combining dot; PostgreSQL, in a locale like this
      // server's, to i — and then admİn@ signs in as admin@. On one without, it is another email.
      const dotted = TestServer.admin.email.replace("i", "İ")
      const upper = TestServer.admin.email.toUpperCase()
      const sameAccount = (yield* Effect.promise(() =>
        pool.query("select lower($1) = lower($2) as same", [dotted, TestServer.admin.email])
      )).rows[0].same as boolean
      const address = fromNewAddress()
      for (let i = 0; i < 5; i++) {
        const email = i % 2 === 0 ? dotted : upper
        expect((yield* AuthFlows.login({ email, password: `wrong-password-${i}` }, address)).status).toBe(401)
      }
      // Three failures as admİn@, two as ADMIN@: five for one account, so the next is past the limit.
      expect((yield* AuthFlows.login({ email: upper, password: "wrong-password-5" }, address)).status)
        .toBe(sameAccount ? 429 : 401)
      if (sameAccount) {
        expect((yield* AuthFlows.login({ ...TestServer.admin, email: dotted }, address)).status).toBe(429)
        expect((yield* AuthFlows.login({ ...TestServer.admin, email: dotted }, fromNewAddress())).status).toBe(200)
      }
    }))

  it.effect("the IPv6 addresses of one /64 share one address's budget; another /64 has its own", () =>
    Effect.gen(function*() {
      const from = (address: string) => ({ "x-forwarded-for": address })
      for (let i = 0; i < addressLimit; i++) {
        const address = i % 2 === 0 ? "2001:db8:77:1::1" : `2001:db8:77:1:${i}::${i}`
        const attempt = yield* AuthFlows.login({ email: `v6.guess${i}@nestfleet.test`, password: "guessed-password" }, from(address))
        expect(attempt.status).toBe(401)
      }
      expect((yield* AuthFlows.login(TestServer.admin, from("2001:0db8:0077:0001:ffff:ffff:ffff:fffe"))).status).toBe(429)
      expect((yield* AuthFlows.login(TestServer.admin, from("2001:db8:77:2::1"))).status).toBe(200)
    }))

  it.effect("each sign-in prunes a bounded batch of counters that no longer count, and none that do", () =>
    Effect.gen(function*() {
      const { pool } = yield* Database.Database
      const query = (text: string, values: ReadonlyArray<unknown> = []) =>
        Effect.promise(() => pool.query(text, [...values]))
      const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000)
      const insert = (key: string, windowStartedAt: Date, blockedUntil: Date | null) =>
        query(
          "insert into login_failures (scope, key, failures, window_started_at, blocked_until) values ('email', $1, 3, $2, $3)",
          [key, windowStartedAt, blockedUntil]
        )
      for (let i = 0; i < 12; i++) yield* insert(`prune.window.passed.${i}@nestfleet.test`, minutesAgo(60 + i), null)
      yield* insert("prune.block.ended@nestfleet.test", minutesAgo(60), minutesAgo(1))
      yield* insert("prune.block.on@nestfleet.test", minutesAgo(60), minutesAgo(-10))
      yield* insert("prune.window.on@nestfleet.test", minutesAgo(1), null)
      const left = Effect.map(
        query("select key from login_failures where key like 'prune.%' order by key"),
        (result) => result.rows.map((row) => row.key as string)
      )

      yield* AuthFlows.login({ email: "prune.trigger@nestfleet.test", password: "whatever-password" }, fromNewAddress())
      // Ten of the window's twelve, oldest first, and the ended block; live windows and blocks stay.
      expect(yield* left).toEqual([
        "prune.block.on@nestfleet.test",
        "prune.trigger@nestfleet.test",
        "prune.window.on@nestfleet.test",
        "prune.window.passed.0@nestfleet.test",
        "prune.window.passed.1@nestfleet.test"
      ])
      yield* AuthFlows.login({ email: "prune.trigger@nestfleet.test", password: "whatever-password" }, fromNewAddress())
      expect(yield* left).toEqual([
        "prune.block.on@nestfleet.test",
        "prune.trigger@nestfleet.test",
        "prune.window.on@nestfleet.test"
      ])
    }))

  it.effect.skipIf(TestDatabase.mode === "embedded")(
    "a counter deleted while a sign-in waited for its lock is made again, and the attempt counts (PostgreSQL server only: the test holds a row lock on a connection of its own)",
    () =>
      Effect.gen(function*() {
        const { pool } = yield* Database.Database
        const address = fromNewAddress()
        const guess = { email: "deleted.counter@nestfleet.test", password: "guessed-password" }
        expect((yield* AuthFlows.login(guess, address)).status).toBe(401)
        const addressCounter = [address["x-forwarded-for"]]
        const failures = Effect.map(
          Effect.promise(() => pool.query("select failures from login_failures where scope = 'address' and key = $1", addressCounter)),
          (result) => result.rows.map((row) => row.failures as number)
        )
        expect(yield* failures).toEqual([1])
        const attempt = yield* Effect.acquireUseRelease(
          Effect.promise(() => pool.connect()),
          (holder) =>
            Effect.gen(function*() {
              // As a success that forgets it, or a prune, would: locked, then deleted once the attempt waits for it.
              yield* Effect.promise(() => holder.query("begin"))
              yield* Effect.promise(() =>
                holder.query("select 1 from login_failures where scope = 'address' and key = $1 for update", addressCounter)
              )
              const attempt = yield* Effect.fork(AuthFlows.login(guess, address))
              yield* waitingForLocks(pool, 1)
              yield* Effect.promise(() => holder.query("delete from login_failures where scope = 'address' and key = $1", addressCounter))
              yield* Effect.promise(() => holder.query("commit"))
              return yield* Fiber.join(attempt)
            }),
          (holder) => Effect.sync(() => holder.release())
        )
        expect(attempt.status).toBe(401)
        expect(yield* failures).toEqual([1])
      })
  )

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
