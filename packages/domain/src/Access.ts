/**
 * Who may call what. Every endpoint of the contract is either in a group annotated
 * `Public`, or guarded by exactly one of the access middlewares below, which name the
 * lowest role they let through. The API implements them (verify the access token, load the
 * user from the database, check the role, provide `CurrentUser`); a test walks the contract
 * and proves both rules on the real server.
 */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context, Schema } from "effect"
import { Forbidden, Unauthorized } from "./Errors.js"
import type { Role, UserId } from "./Users.js"

/** The signed-in user of the current request, as the database has them right now. */
export interface SignedInUser {
  readonly id: UserId
  readonly email: string
  readonly name: string
  readonly roles: ReadonlyArray<Role>
  /** The login session the access token belongs to. */
  readonly sessionId: string
}

export class CurrentUser extends Context.Tag("@nestfleet/domain/CurrentUser")<CurrentUser, SignedInUser>() {}

/** Marks a group whose endpoints anyone may call. */
export class Public extends Context.Tag("@nestfleet/domain/Public")<Public, true>() {}

const AccessFailure = Schema.Union(Unauthorized, Forbidden)

const accessOptions = {
  failure: AccessFailure,
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
} as const

/** Any signed-in user (every user has at least the `viewer` role). */
export class RequireViewer extends HttpApiMiddleware.Tag<RequireViewer>()("RequireViewer", accessOptions) {
  static readonly role: Role = "viewer"
}

/** Agents and admins: those who work cases. */
export class RequireAgent extends HttpApiMiddleware.Tag<RequireAgent>()("RequireAgent", accessOptions) {
  static readonly role: Role = "agent"
}

/** Admins only: users, products, channels, settings. */
export class RequireAdmin extends HttpApiMiddleware.Tag<RequireAdmin>()("RequireAdmin", accessOptions) {
  static readonly role: Role = "admin"
}

const accessMiddlewares = [RequireViewer, RequireAgent, RequireAdmin] as const

/** The lowest role a middleware lets through, if it is one of the access middlewares. */
export const requiredRole = (middleware: unknown): Role | undefined =>
  accessMiddlewares.find((access) => access === middleware)?.role
