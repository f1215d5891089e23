/**
 * Signing in against a test server the way a browser client does: JSON bodies, the bearer
 * token in `Authorization`, the refresh token in a cookie.
 */
import { AccessTokens } from "@nestfleet/core/AccessTokens"
import { refreshCookie } from "@nestfleet/domain/AuthApi"
import { Effect, Redacted, TestClock, TestContext } from "effect"
import * as TestServer from "./TestServer.js"

export interface Credentials {
  readonly email: string
  readonly password: string
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  body: JSON.stringify(body),
  headers: { "content-type": "application/json", ...headers }
})

/** The refresh cookie a response sets: its value and its attributes. */
export const refreshCookieOf = (headers: Headers) => {
  const line = headers.getSetCookie().find((cookie) => cookie.startsWith(`${refreshCookie.name}=`))
  if (line === undefined) return undefined
  const [pair, ...attributes] = line.split(";").map((part) => part.trim())
  return { value: pair!.slice(refreshCookie.name.length + 1), attributes, line }
}

export const login = (credentials: Credentials, headers: Record<string, string> = {}) =>
  Effect.map(TestServer.request("/api/v1/auth/login", json(credentials, headers)), (response) => ({
    ...response,
    refreshToken: refreshCookieOf(response.headers)?.value
  }))

/** Signs in and answers the access token and refresh token, failing the test otherwise. */
export const signIn = (credentials: Credentials) =>
  Effect.flatMap(login(credentials), (response) => {
    const body = response.body as { accessToken?: string; user?: { id: string } }
    return response.status === 200 && body.accessToken !== undefined && response.refreshToken !== undefined
      ? Effect.succeed({ accessToken: body.accessToken, refreshToken: response.refreshToken, userId: body.user!.id })
      : Effect.dieMessage(`sign-in as ${credentials.email} answered ${response.status}: ${JSON.stringify(response.body)}`)
  })

export const refresh = (refreshToken: string | undefined) =>
  Effect.map(
    TestServer.request("/api/v1/auth/refresh", {
      method: "POST",
      headers: refreshToken === undefined ? {} : { cookie: `${refreshCookie.name}=${refreshToken}` }
    }),
    (response) => ({ ...response, refreshToken: refreshCookieOf(response.headers)?.value })
  )

/** Signs out with whichever credentials are given: the refresh cookie, the access token, both or neither. */
export const logout = (credentials: { readonly refreshToken?: string; readonly accessToken?: string }) =>
  Effect.map(
    TestServer.request("/api/v1/auth/logout", {
      method: "POST",
      headers: {
        ...(credentials.refreshToken === undefined ? {} : { cookie: `${refreshCookie.name}=${credentials.refreshToken}` }),
        ...(credentials.accessToken === undefined ? {} : { authorization: `Bearer ${credentials.accessToken}` })
      }
    }),
    (response) => ({ ...response, refreshCookie: refreshCookieOf(response.headers) })
  )

/** A request with a bearer token; `body` is sent as JSON. */
export const call = (
  accessToken: string,
  path: string,
  init: { readonly method?: string; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
) =>
  TestServer.request(path, {
    method: init.method ?? "GET",
    headers: {
      authorization: `Bearer ${accessToken}`,
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...init.headers
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
  })

/** Creates a user through the API as `admin`, and answers the new user's id. */
export const createUser = (
  adminToken: string,
  user: { readonly email: string; readonly name?: string; readonly password: string; readonly roles: ReadonlyArray<string> }
) =>
  Effect.flatMap(
    call(adminToken, "/api/v1/users", { method: "POST", body: { name: user.email.split("@")[0], ...user } }),
    (response) =>
      response.status === 201
        ? Effect.succeed((response.body as { id: string }).id)
        : Effect.dieMessage(`creating ${user.email} answered ${response.status}: ${JSON.stringify(response.body)}`)
  )

/**
 * An access token signed with `secret` as if issued at `issuedAt` (epoch milliseconds): an
 * hour ago, it is expired now. Issued on a `TestClock` set to that time.
 */
export const accessTokenIssuedAt = (
  secret: string,
  claims: { readonly userId: string; readonly sessionId: string },
  issuedAt: number
) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(issuedAt)
    const issued = yield* AccessTokens.fromSecret(new TextEncoder().encode(secret)).issue(claims)
    return Redacted.value(issued.token)
  }).pipe(Effect.provide(TestContext.TestContext))
