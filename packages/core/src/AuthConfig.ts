import { Email, passwordMinLength } from "@nestfleet/domain/Users"
import { Config, ConfigError, Either, Option, Redacted, Schema } from "effect"

/** A throttle key that is blocked past a number of failures. */
export interface LoginThrottlePolicy {
  /** Failed sign-ins counted together; an older window starts over. */
  readonly windowSeconds: number
  /** Failures in one window the key may have; one more attempt blocks it. */
  readonly limit: number
  readonly blockSeconds: number
}

/** An email's failures from every address together: past a count, sign-ins wait, never blocked. */
export interface LoginSlowdownPolicy {
  readonly windowSeconds: number
  /** Failures in one window that cost nothing; each one after them doubles the wait. */
  readonly afterFailures: number
  /** The longest any sign-in waits. */
  readonly maxDelaySeconds: number
}

export interface AuthConfig {
  /** `Secure` on the refresh cookie; only `COOKIE_SECURE=false` (plain-HTTP development) drops it. */
  readonly cookieSecure: boolean
  /** The first admin, created when the database has no users. */
  readonly adminEmail: string
  /** The first admin's password; when absent one is generated and printed once in the start log. */
  readonly adminPassword: Option.Option<Redacted.Redacted>
  /** One email from one client address. */
  readonly throttlePerEmailAndAddress: LoginThrottlePolicy
  /** One client address, whichever emails it tries. */
  readonly throttlePerAddress: LoginThrottlePolicy
  /** One email from everywhere. */
  readonly slowdownPerEmail: LoginSlowdownPolicy
  /** How long a rotated refresh token still answers its successor (parallel refreshes); 0 turns it off. */
  readonly refreshReuseGraceSeconds: number
}

const integerIn = (name: string, fallback: number, min: number, max: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `Expected an integer from ${min} to ${max}`, validation: (n) => n >= min && n <= max }),
    Config.withDefault(fallback)
  )

const positiveInteger = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "Expected a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

const adminPassword = Config.redacted("ADMIN_PASSWORD").pipe(
  Config.option,
  Config.map(Option.filter((password) => Redacted.value(password).length > 0)),
  Config.mapOrFail((password) =>
    Option.isSome(password) && Redacted.value(password.value).length < passwordMinLength
      ? Either.left(ConfigError.InvalidData(["ADMIN_PASSWORD"], `Expected at least ${passwordMinLength} characters`))
      : Either.right(password)
  )
)

const email = Config.string("ADMIN_EMAIL").pipe(
  Config.validate({
    message: "Expected an email address like admin@example.com",
    validation: Schema.is(Email)
  }),
  Config.withDefault("admin@nestfleet.local")
)

const blockSeconds = Config.map(positiveInteger("LOGIN_BLOCK_MINUTES", 15), (minutes) => minutes * 60)

export const AuthConfig: Config.Config<AuthConfig> = Config.all({
  cookieSecure: Config.boolean("COOKIE_SECURE").pipe(Config.withDefault(true)),
  adminEmail: email,
  adminPassword,
  throttlePerEmailAndAddress: Config.all({
    windowSeconds: blockSeconds,
    limit: positiveInteger("LOGIN_MAX_FAILURES_PER_EMAIL", 5),
    blockSeconds
  }),
  throttlePerAddress: Config.all({
    windowSeconds: blockSeconds,
    limit: positiveInteger("LOGIN_MAX_FAILURES_PER_ADDRESS", 50),
    blockSeconds
  }),
  slowdownPerEmail: Config.all({
    windowSeconds: blockSeconds,
    afterFailures: positiveInteger("LOGIN_SLOWDOWN_AFTER_FAILURES", 5),
    // A minute at most: longer, and clients and proxies give up on the answer.
    maxDelaySeconds: integerIn("LOGIN_SLOWDOWN_MAX_SECONDS", 10, 1, 60)
  }),
  // Long enough for tabs that refresh together, short enough that a stolen token is of no use.
  refreshReuseGraceSeconds: integerIn("REFRESH_REUSE_GRACE_SECONDS", 20, 0, 60)
})
