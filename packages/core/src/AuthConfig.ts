import { Email, passwordMinLength } from "@nestfleet/domain/Users"
import { Config, ConfigError, Either, Option, Redacted, Schema } from "effect"

export interface LoginThrottlePolicy {
  /** Failed sign-ins counted together; an older window starts over. */
  readonly windowSeconds: number
  /** Failures in one window that block the key. */
  readonly limit: number
  readonly blockSeconds: number
}

export interface AuthConfig {
  /** `Secure` on the refresh cookie; only `COOKIE_SECURE=false` (plain-HTTP development) drops it. */
  readonly cookieSecure: boolean
  /** The first admin, created when the database has no users. */
  readonly adminEmail: string
  /** The first admin's password; when absent one is generated and printed once in the start log. */
  readonly adminPassword: Option.Option<Redacted.Redacted>
  readonly throttlePerEmail: LoginThrottlePolicy
  readonly throttlePerAddress: LoginThrottlePolicy
}

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
  throttlePerEmail: Config.all({
    windowSeconds: blockSeconds,
    limit: positiveInteger("LOGIN_MAX_FAILURES_PER_EMAIL", 5),
    blockSeconds
  }),
  throttlePerAddress: Config.all({
    windowSeconds: blockSeconds,
    limit: positiveInteger("LOGIN_MAX_FAILURES_PER_ADDRESS", 50),
    blockSeconds
  })
})
