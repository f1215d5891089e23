/**
 * Signing in and out. Sign-in answers a short-lived access token (sent as
 * `Authorization: Bearer …`) and sets a refresh token in an httpOnly cookie scoped to these
 * routes; the refresh endpoint trades that cookie for a new access token and a rotated cookie.
 * Sign-out takes either credential, so a client whose access token has expired can still end
 * its session with the cookie.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { noNul } from "./Text.js"
import { Public, RequireViewer } from "./Access.js"
import { GivenPassword, Password, Role, UserId } from "./Users.js"

/** The cookie that carries the refresh token, and the only path it is sent to. */
export const refreshCookie = { name: "nestfleet_refresh", path: "/api/v1/auth" } as const

export class LoginRequest extends Schema.Class<LoginRequest>("LoginRequest")({
  email: Schema.Trim.pipe(noNul, Schema.maxLength(254)),
  password: GivenPassword
}) {}

export class SessionUser extends Schema.Class<SessionUser>("SessionUser")({
  id: UserId,
  email: Schema.String,
  name: Schema.String,
  roles: Schema.Array(Role)
}) {}

export class Session extends Schema.Class<Session>("Session")({
  accessToken: Schema.Redacted(Schema.String),
  expiresAt: Schema.Date,
  user: SessionUser
}) {}

export class ChangePasswordRequest extends Schema.Class<ChangePasswordRequest>("ChangePasswordRequest")({
  currentPassword: GivenPassword,
  newPassword: Password
}) {}

/** A wrong password and an unknown email get this same answer. */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()(
  "InvalidCredentials",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401, description: "The email or the password is wrong." })
) {}

export class TooManyLoginAttempts extends Schema.TaggedError<TooManyLoginAttempts>()(
  "TooManyLoginAttempts",
  { message: Schema.String, retryAfterSeconds: Schema.Int },
  HttpApiSchema.annotations({
    status: 429,
    description: "Too many failed sign-ins for this email from this address, or from this address; see Retry-After."
  })
) {}

export class InvalidRefreshToken extends Schema.TaggedError<InvalidRefreshToken>()(
  "InvalidRefreshToken",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401, description: "The refresh cookie is missing, expired or revoked." })
) {}

export class CurrentPasswordIncorrect extends Schema.TaggedError<CurrentPasswordIncorrect>()(
  "CurrentPasswordIncorrect",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400, description: "The current password given is wrong." })
) {}

/**
 * Sign-in, refresh and sign-out: public, as they are how a client gets credentials and how it
 * gives them up (sign-out authenticates by the cookie or the token it ends, and with neither
 * there is nothing to end).
 */
export class AuthApi extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("login", "/auth/login")
      .setPayload(LoginRequest)
      .addSuccess(Session)
      .addError(InvalidCredentials)
      .addError(TooManyLoginAttempts)
      .annotate(OpenApi.Summary, "Sign in; sets the refresh cookie")
  )
  .add(
    HttpApiEndpoint.post("refresh", "/auth/refresh")
      .addSuccess(Session)
      .addError(InvalidRefreshToken)
      .annotate(OpenApi.Summary, "A new access token for the refresh cookie, which is rotated")
  )
  .add(
    HttpApiEndpoint.post("logout", "/auth/logout")
      .addSuccess(HttpApiSchema.NoContent)
      .annotate(
        OpenApi.Summary,
        "Sign out: ends the session the refresh cookie or the bearer token names, and clears the cookie"
      )
      .annotate(
        OpenApi.Description,
        "Either credential is enough; send the cookie when the access token has expired. Always 204: " +
          "credentials that name no live session end nothing."
      )
  )
  .annotate(Public, true)
  .annotate(OpenApi.Title, "Authentication")
{}

/** The signed-in user's own session and password. */
export class SessionApi extends HttpApiGroup.make("session")
  .add(
    HttpApiEndpoint.get("me", "/auth/me")
      .addSuccess(SessionUser)
      .annotate(OpenApi.Summary, "The signed-in user")
  )
  .add(
    HttpApiEndpoint.post("changePassword", "/auth/password")
      .setPayload(ChangePasswordRequest)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(CurrentPasswordIncorrect)
      .annotate(OpenApi.Summary, "Change your own password; signs out your other sessions")
  )
  .middleware(RequireViewer)
  .annotate(OpenApi.Title, "Session")
{}
