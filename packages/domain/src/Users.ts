/**
 * Users and their roles: the shared language of the auth and users APIs.
 *
 * Roles form a ladder — `viewer` reads, `agent` works cases, `admin` manages the system —
 * and a role includes everything below it.
 */
import { Schema } from "effect"
import { noNul } from "./Text.js"

export const UserId = Schema.UUID.pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type

export const Role = Schema.Literal("admin", "agent", "viewer")
export type Role = typeof Role.Type

const rank: Record<Role, number> = { viewer: 0, agent: 1, admin: 2 }

/** Whether a user with `roles` may do what needs `required`. */
export const hasRole = (roles: ReadonlyArray<Role>, required: Role): boolean =>
  roles.some((role) => rank[role] >= rank[required])

/** The roles below `role` on the ladder: the ones it refuses. */
export const rolesBelow = (role: Role): ReadonlyArray<Role> => Role.literals.filter((other) => rank[other] < rank[role])

/** Roles as given, each once, in ladder order from the top. */
export const Roles = Schema.NonEmptyArray(Role).pipe(
  Schema.annotations({ description: "One or more of admin, agent, viewer." })
)

export const Email = Schema.Trim.pipe(
  noNul,
  Schema.maxLength(254, { message: () => "An email address is at most 254 characters" }),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "Expected an email address like name@example.com" }),
  Schema.annotations({ description: "An email address; unique whatever its case." })
)

export const UserName = Schema.Trim.pipe(
  noNul,
  Schema.minLength(1, { message: () => "A name cannot be empty" }),
  Schema.maxLength(200, { message: () => "A name is at most 200 characters" })
)

export const passwordMinLength = 12
export const passwordMaxLength = 1024

/**
 * A new password. Decoded straight into `Redacted`, so it prints as `<redacted>` wherever it
 * goes; the messages never quote it.
 */
export const Password = Schema.Redacted(
  Schema.String.pipe(
    Schema.minLength(passwordMinLength, {
      message: () => `A password needs at least ${passwordMinLength} characters`
    }),
    Schema.maxLength(passwordMaxLength, {
      message: () => `A password is at most ${passwordMaxLength} characters`
    })
  )
).pipe(Schema.annotations({ description: `At least ${passwordMinLength} characters.` }))

/** A password as typed at sign-in: checked against the stored hash, never against the policy. */
export const GivenPassword = Schema.Redacted(
  Schema.String.pipe(Schema.maxLength(passwordMaxLength, { message: () => "Password too long" }))
)

export class User extends Schema.Class<User>("User")({
  id: UserId,
  email: Schema.String,
  name: Schema.String,
  roles: Roles,
  disabled: Schema.Boolean,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}
