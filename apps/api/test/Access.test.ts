/**
 * Walks the whole `HttpApi` contract and proves on the real server that every endpoint is
 * either public — and then in the short list below — or refuses callers without valid
 * credentials (401) and callers whose roles are below its access level (403).
 *
 * A new endpoint is covered the moment it joins the contract: one without an access
 * middleware and not marked `Public` fails here.
 */
import { HttpApi } from "@effect/platform"
import { expect, layer } from "@effect/vitest"
import { AccessTokens } from "@nestfleet/core/AccessTokens"
import { Public, requiredRole } from "@nestfleet/domain/Access"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { type Role, rolesBelow } from "@nestfleet/domain/Users"
import { Context, Effect, Option, Redacted } from "effect"
import * as AuthFlows from "./AuthFlows.js"
import * as TestServer from "./TestServer.js"

interface Walked {
  readonly name: string
  readonly method: string
  readonly path: string
  readonly isPublic: boolean
  readonly roles: ReadonlyArray<Role>
}

const walk = (): ReadonlyArray<Walked> => {
  const endpoints: Array<Walked> = []
  HttpApi.reflect(NestFleetApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group, mergedAnnotations, middleware }) => {
      const roles = [...middleware].flatMap((tag) => Option.fromNullable(requiredRole(tag)).pipe(Option.toArray))
      endpoints.push({
        name: `${group.identifier}.${endpoint.name}`,
        method: endpoint.method,
        path: endpoint.path,
        isPublic: Option.isSome(Context.getOption(mergedAnnotations, Public)),
        roles
      })
    }
  })
  return endpoints
}

/** A concrete URL for a route: every `:param` gets a well-formed id that names nothing. */
const urlOf = (path: string) => path.replace(/:[A-Za-z]+/g, "00000000-0000-4000-8000-000000000000")

/** The request a client without the right credentials would make; a body where one is expected. */
const requestInit = (endpoint: Walked, headers: Record<string, string>): RequestInit => ({
  method: endpoint.method,
  headers: { ...headers, ...(endpoint.method === "GET" ? {} : { "content-type": "application/json" }) },
  ...(endpoint.method === "GET" || endpoint.method === "DELETE" ? {} : { body: "{}" })
})

// Sign-out is public: it authenticates by the refresh cookie or the access token it ends, and
// with neither there is nothing to end (a 204 either way).
const publicToday = ["auth.login", "auth.logout", "auth.refresh", "health.health", "health.ready", "webhooks.deliver"]

const users: Record<Role, AuthFlows.Credentials> = {
  admin: TestServer.admin,
  agent: { email: "walker.agent@nestfleet.test", password: "agent-password-123" },
  viewer: { email: "walker.viewer@nestfleet.test", password: "viewer-password-123" }
}

layer(TestServer.layer(), { excludeTestServices: true, timeout: 120_000 })("access to the contract", (it) => {
  const endpoints = walk()

  it("every endpoint is public (and listed here) or guarded by exactly one access level", () => {
    expect(endpoints.filter((endpoint) => endpoint.isPublic).map((endpoint) => endpoint.name).sort()).toEqual(publicToday)
    for (const endpoint of endpoints) {
      expect([endpoint.name, endpoint.roles.length]).toEqual([endpoint.name, endpoint.isPublic ? 0 : 1])
    }
    // The walk sees the whole contract, not a part of it.
    expect(endpoints.length).toBeGreaterThanOrEqual(publicToday.length + 7)
  })

  it.effect("every non-public endpoint answers 401 without a token, and with a tampered, expired or foreign one", () =>
    Effect.gen(function*() {
      const admin = yield* AuthFlows.signIn(TestServer.admin)
      const [header, payload, signature] = admin.accessToken.split(".") as [string, string, string]
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { sub: string; sid: string }
      const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sid: claims.sub })).toString("base64url")}.${signature}`
      const expired = yield* AuthFlows.accessTokenIssuedAt(
        TestServer.jwtSecret,
        { userId: claims.sub, sessionId: claims.sid },
        Date.now() - 16 * 60_000
      )
      const foreignIssuer = AccessTokens.fromSecret(new TextEncoder().encode("a-different-secret-of-32-bytes-or-more"))
      const foreign = Redacted.value((yield* foreignIssuer.issue({ userId: claims.sub, sessionId: claims.sid })).token)

      const credentials: Record<string, Record<string, string>> = {
        none: {},
        malformed: { authorization: "Basic YWRtaW46YWRtaW4=" },
        tampered: { authorization: `Bearer ${tampered}` },
        expired: { authorization: `Bearer ${expired}` },
        foreign: { authorization: `Bearer ${foreign}` }
      }
      for (const endpoint of endpoints.filter((endpoint) => !endpoint.isPublic)) {
        for (const [kind, headers] of Object.entries(credentials)) {
          const response = yield* TestServer.request(urlOf(endpoint.path), requestInit(endpoint, headers))
          expect([endpoint.name, kind, response.status]).toEqual([endpoint.name, kind, 401])
          expect(response.body).toMatchObject({ _tag: "Unauthorized" })
        }
        // A genuine token gets past the check (whatever the endpoint then makes of `{}`). A
        // fresh sign-in each time, so that an endpoint that ends sessions cannot fail the next.
        const genuine = yield* TestServer.request(
          urlOf(endpoint.path),
          requestInit(endpoint, { authorization: `Bearer ${(yield* AuthFlows.signIn(TestServer.admin)).accessToken}` })
        )
        expect([endpoint.name, genuine.status === 401 || genuine.status === 403]).toEqual([endpoint.name, false])
      }
    }))

  it.effect("every role-restricted endpoint answers 403 to the roles below its level, and lets its level in", () =>
    Effect.gen(function*() {
      const admin = yield* AuthFlows.signIn(users.admin)
      yield* AuthFlows.createUser(admin.accessToken, { ...users.agent, roles: ["agent"] })
      yield* AuthFlows.createUser(admin.accessToken, { ...users.viewer, roles: ["viewer"] })
      // A fresh sign-in for every call, so that an endpoint that ends sessions cannot fail the next.
      const tokenOf = (role: Role) => Effect.map(AuthFlows.signIn(users[role]), (signedIn) => signedIn.accessToken)
      for (const endpoint of endpoints.filter((endpoint) => !endpoint.isPublic)) {
        const required = endpoint.roles[0]!
        for (const role of rolesBelow(required)) {
          const response = yield* TestServer.request(
            urlOf(endpoint.path),
            requestInit(endpoint, { authorization: `Bearer ${yield* tokenOf(role)}` })
          )
          expect([endpoint.name, role, response.status]).toEqual([endpoint.name, role, 403])
          expect(response.body).toMatchObject({ _tag: "Forbidden" })
        }
        const allowed = yield* TestServer.request(
          urlOf(endpoint.path),
          requestInit(endpoint, { authorization: `Bearer ${yield* tokenOf(required)}` })
        )
        expect([endpoint.name, required, allowed.status === 401 || allowed.status === 403])
          .toEqual([endpoint.name, required, false])
      }
    }))
})
