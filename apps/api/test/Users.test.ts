/** The users API (admins only), on the real server and database. */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import * as TestServer from "./TestServer.js"

const adminToken = Effect.map(AuthFlows.signIn(TestServer.admin), (signedIn) => signedIn.accessToken)

const patch = (token: string, id: string, body: unknown) =>
  AuthFlows.call(token, `/api/v1/users/${id}`, { method: "PATCH", body })

// Plain-HTTP development mode, which only drops `Secure` from the refresh cookie.
const serverLayer = TestServer.layer(undefined, { config: { COOKIE_SECURE: "false" } })

layer(serverLayer, { excludeTestServices: true, timeout: 120_000 })("users API", (it) => {
  it.effect("with COOKIE_SECURE=false the refresh cookie is not Secure, and otherwise the same", () =>
    Effect.gen(function*() {
      const cookie = AuthFlows.refreshCookieOf((yield* AuthFlows.login(TestServer.admin)).headers)!
      expect(cookie.attributes).not.toContain("Secure")
      expect(cookie.attributes).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Path=/api/v1/auth"]))
    }))

  it.effect("lists users without their password hashes", () =>
    Effect.gen(function*() {
      const response = yield* AuthFlows.call(yield* adminToken, "/api/v1/users")
      expect(response.status).toBe(200)
      const { items } = response.body as { items: Array<Record<string, unknown>> }
      expect(items[0]).toMatchObject({ email: TestServer.admin.email, roles: ["admin"], disabled: false })
      expect(Object.keys(items[0]!).sort()).toEqual(["createdAt", "disabled", "email", "id", "name", "roles", "updatedAt"])
      expect(JSON.stringify(response.body)).not.toContain("scrypt")
    }))

  it.effect("creates a user who can sign in; roles are kept once each, highest first", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      const created = yield* AuthFlows.call(token, "/api/v1/users", {
        method: "POST",
        body: { email: "  Grace@Example.com ", name: " Grace ", password: "grace-password-123", roles: ["viewer", "agent", "viewer"] }
      })
      expect(created.status).toBe(201)
      expect(created.body).toMatchObject({ email: "Grace@Example.com", name: "Grace", roles: ["agent", "viewer"], disabled: false })
      expect((yield* AuthFlows.login({ email: "grace@example.com", password: "grace-password-123" })).status).toBe(200)
    }))

  it.effect("an email taken in any case answers 409, and nothing is written", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      const before = ((yield* AuthFlows.call(token, "/api/v1/users")).body as { items: Array<unknown> }).items.length
      const duplicate = yield* AuthFlows.call(token, "/api/v1/users", {
        method: "POST",
        body: { email: TestServer.admin.email.toUpperCase(), name: "Twin", password: "twin-password-123", roles: ["viewer"] }
      })
      expect(duplicate.status).toBe(409)
      expect(duplicate.body).toMatchObject({ _tag: "EmailTaken" })
      const after = ((yield* AuthFlows.call(token, "/api/v1/users")).body as { items: Array<unknown> }).items.length
      expect(after).toBe(before)
    }))

  it.effect("invalid users answer 400 naming the problem, without echoing the password", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      const valid = { email: "valid@example.com", name: "Valid", password: "valid-password-123", roles: ["viewer"] }
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...valid, email: "not-an-email" }, "email address"],
        [{ ...valid, password: "sh0rt-pass" }, "at least 12 characters"],
        [{ ...valid, roles: [] }, "roles"],
        [{ ...valid, roles: ["root"] }, "roles"],
        [{ ...valid, name: "   " }, "name cannot be empty"]
      ]
      for (const [body, problem] of cases) {
        const response = yield* AuthFlows.call(token, "/api/v1/users", { method: "POST", body })
        expect([problem, response.status]).toEqual([problem, 400])
        expect(JSON.stringify(response.body)).toContain(problem)
        expect(JSON.stringify(response.body)).not.toContain("sh0rt-pass")
      }
    }))

  it.effect("renames, changes roles, and answers 404 for an unknown id and 400 for a malformed one", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      const id = yield* AuthFlows.createUser(token, { email: "ren@example.com", password: "ren-password-1234", roles: ["viewer"] })
      const updated = yield* patch(token, id, { name: "Ren Amamiya", roles: ["agent"] })
      expect(updated.status).toBe(200)
      expect(updated.body).toMatchObject({ id, name: "Ren Amamiya", roles: ["agent"], disabled: false })
      const signedIn = yield* AuthFlows.signIn({ email: "ren@example.com", password: "ren-password-1234" })
      expect((yield* AuthFlows.call(signedIn.accessToken, "/api/v1/auth/me")).body).toMatchObject({ roles: ["agent"] })

      const unknown = yield* patch(token, "00000000-0000-4000-8000-000000000000", { name: "Nobody" })
      expect(unknown.status).toBe(404)
      expect(unknown.body).toMatchObject({ _tag: "UserNotFound" })
      expect((yield* patch(token, "not-a-uuid", { name: "Nobody" })).status).toBe(400)
    }))

  it.effect("the last enabled admin cannot be demoted or disabled; with two admins, one can", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      const me = ((yield* AuthFlows.call(token, "/api/v1/auth/me")).body as { id: string }).id
      for (const change of [{ roles: ["agent"] }, { disabled: true }, { roles: ["viewer"], disabled: true }]) {
        const refused = yield* patch(token, me, change)
        expect(refused.status).toBe(409)
        expect(refused.body).toMatchObject({ _tag: "LastAdmin" })
      }
      expect((yield* AuthFlows.call(token, "/api/v1/auth/me")).body).toMatchObject({ roles: ["admin"] })

      // Two admins each disable the other at the same time: exactly one of them wins.
      const other = { email: "second.admin@example.com", password: "second-admin-1234" }
      const otherId = yield* AuthFlows.createUser(token, { ...other, roles: ["admin"] })
      const otherToken = (yield* AuthFlows.signIn(other)).accessToken
      const [mine, theirs] = yield* Effect.all(
        [patch(token, otherId, { disabled: true }), patch(otherToken, me, { disabled: true })],
        { concurrency: "unbounded" }
      )
      const statuses = [mine.status, theirs.status].sort()
      expect([200, 401, 409]).toEqual(expect.arrayContaining(statuses))
      expect(statuses.filter((status) => status === 200)).toHaveLength(1)
      // Put things back: whoever is still an admin re-enables the other.
      const winner = mine.status === 200 ? token : otherToken
      const loser = mine.status === 200 ? otherId : me
      expect((yield* patch(winner, loser, { disabled: false })).status).toBe(200)
    }))

  it.effect("an admin resets a password: the old one stops working and the user is signed out everywhere", () =>
    Effect.gen(function*() {
      const token = yield* adminToken
      const user = { email: "forgetful@example.com", password: "forgotten-password-1" }
      const id = yield* AuthFlows.createUser(token, { ...user, roles: ["viewer"] })
      const signedIn = yield* AuthFlows.signIn(user)
      const reset = yield* AuthFlows.call(token, `/api/v1/users/${id}/password`, {
        method: "POST",
        body: { password: "a-brand-new-password" }
      })
      expect(reset.status).toBe(204)
      expect((yield* AuthFlows.call(signedIn.accessToken, "/api/v1/auth/me")).status).toBe(401)
      expect((yield* AuthFlows.refresh(signedIn.refreshToken)).status).toBe(401)
      expect((yield* AuthFlows.login(user)).status).toBe(401)
      expect((yield* AuthFlows.login({ ...user, password: "a-brand-new-password" })).status).toBe(200)

      const unknown = yield* AuthFlows.call(token, "/api/v1/users/00000000-0000-4000-8000-000000000000/password", {
        method: "POST",
        body: { password: "a-brand-new-password" }
      })
      expect(unknown.status).toBe(404)
    }))
})
