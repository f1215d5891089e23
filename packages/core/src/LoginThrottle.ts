/**
 * Slows down password guessing: failed sign-ins are counted per email and per client
 * address; either one over its limit answers 429 with the wait. An unknown email is counted
 * like a known one, so the throttle says nothing about which emails exist.
 */
import { LoginFailuresRepo } from "@nestfleet/db/LoginFailuresRepo"
import { TooManyLoginAttempts } from "@nestfleet/domain/AuthApi"
import { Effect, Option } from "effect"
import { AuthConfig } from "./AuthConfig.js"
import { orDieUnexpected } from "./Unexpected.js"

const emailKey = (email: string) => email.trim().toLowerCase()

const secondsUntil = (until: Date) => Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000))

const tooMany = (until: Date) =>
  new TooManyLoginAttempts({
    message: "Too many failed sign-ins. Wait before trying again.",
    retryAfterSeconds: secondsUntil(until)
  })

export class LoginThrottle extends Effect.Service<LoginThrottle>()("@nestfleet/core/LoginThrottle", {
  effect: Effect.gen(function*() {
    const repo = yield* LoginFailuresRepo
    const config = yield* AuthConfig

    /** Fails when the email or the address is blocked, with the longer wait. */
    const check = Effect.fn("LoginThrottle.check")(function*(email: string, address: Option.Option<string>) {
      const blocks = yield* Effect.all([
        repo.blockedUntil("email", emailKey(email)),
        Option.match(address, {
          onNone: () => Effect.succeedNone,
          onSome: (address) => repo.blockedUntil("address", address)
        })
      ])
      const until = Option.reduceCompact(blocks, new Date(0), (a, b) => (a > b ? a : b))
      if (until.getTime() > Date.now()) return yield* tooMany(until)
    }, orDieUnexpected)

    const recordFailure = Effect.fn("LoginThrottle.recordFailure")(function*(email: string, address: Option.Option<string>) {
      yield* repo.recordFailure("email", emailKey(email), config.throttlePerEmail)
      if (Option.isSome(address)) yield* repo.recordFailure("address", address.value, config.throttlePerAddress)
    }, orDieUnexpected)

    const recordSuccess = (email: string) => orDieUnexpected(repo.clear("email", emailKey(email)))

    return { check, recordFailure, recordSuccess } as const
  }),
  dependencies: [LoginFailuresRepo.Default]
}) {}
