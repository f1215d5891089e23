/**
 * Slows down password guessing without handing anyone a way to lock an account's owner out.
 *
 * Sign-in attempts are counted three ways, each over a window of LOGIN_BLOCK_MINUTES:
 * - one email from one client address (LOGIN_MAX_FAILURES_PER_EMAIL): one attempt past the
 *   limit blocks that address for that email — 429 with Retry-After — until the block ends;
 * - one client address, whichever emails it tries (LOGIN_MAX_FAILURES_PER_ADDRESS): likewise,
 *   for every email;
 * - one email from every address together: never a block. Past LOGIN_SLOWDOWN_AFTER_FAILURES,
 *   every sign-in for the email waits before its password is checked: one second, doubling
 *   with each further failure, at most LOGIN_SLOWDOWN_MAX_SECONDS.
 *
 * Why the email is not blocked: whoever knows it (an admin's is easy to guess) could keep it
 * blocked from a handful of addresses, and then the owner's right password would be refused
 * too. A block keyed by an address stops only that address. A much higher count per email
 * would not help: two addresses, each within its own limit, reach any count. A bounded wait
 * is what the owner can afford once and a guesser pays on every guess; how many guesses an
 * attacker gets is bounded by the addresses they hold, five per address and window.
 *
 * An attempt is counted before its password is checked — its keys locked, in one transaction
 * — and given back when it succeeds, so parallel guesses get no more tries than sequential
 * ones. A success also forgets the email's failures from that address (the owner's typos),
 * but not an attacker's elsewhere. Unknown emails are counted and slowed exactly like known
 * ones: neither the answers nor their timing say which emails exist.
 */
import { Transactions } from "@nestfleet/db/Transactions"
import { LoginFailuresRepo, type ThrottleCounter, type ThrottleKey } from "@nestfleet/db/LoginFailuresRepo"
import { TooManyLoginAttempts } from "@nestfleet/domain/AuthApi"
import { Clock, Duration, Effect, Option } from "effect"
import { AuthConfig, type LoginSlowdownPolicy, type LoginThrottlePolicy } from "./AuthConfig.js"
import { orDieUnexpected } from "./Unexpected.js"

const emailKey = (email: string) => email.trim().toLowerCase()

/**
 * The keys an attempt counts against. A request without an address (a Unix socket) shares
 * the (email, address) key with every other such request, and has no address key.
 */
const keysOf = (email: string, address: Option.Option<string>): ReadonlyArray<ThrottleKey> => [
  { scope: "email_address", key: JSON.stringify([Option.getOrElse(address, () => ""), emailKey(email)]) },
  ...Option.match(address, {
    onNone: () => [],
    onSome: (address): ReadonlyArray<ThrottleKey> => [{ scope: "address", key: address }]
  }),
  { scope: "email", key: emailKey(email) }
]

const isBlocked = (counter: ThrottleCounter, now: number) =>
  counter.blockedUntil !== null && counter.blockedUntil.getTime() > now

/** `counter` with one more attempt. A window past its time, or one that ended in a block, starts over. */
const withAttempt = (counter: ThrottleCounter, now: number, windowSeconds: number): ThrottleCounter => {
  const startsOver = counter.blockedUntil !== null || counter.windowStartedAt.getTime() <= now - windowSeconds * 1000
  return {
    ...counter,
    failures: (startsOver ? 0 : counter.failures) + 1,
    windowStartedAt: startsOver ? new Date(now) : counter.windowStartedAt,
    blockedUntil: null
  }
}

/** `counter` blocked from `now` if it has gone past its limit. */
const blockedPastLimit = (counter: ThrottleCounter, now: number, policy: LoginThrottlePolicy): ThrottleCounter =>
  counter.failures > policy.limit ? { ...counter, blockedUntil: new Date(now + policy.blockSeconds * 1000) } : counter

/** How long a sign-in for an email waits, by the email's attempts from every address. */
const slowdownOf = (failures: number, policy: LoginSlowdownPolicy): Duration.Duration => {
  const beyond = failures - policy.afterFailures
  return beyond <= 0 ? Duration.zero : Duration.seconds(Math.min(policy.maxDelaySeconds, 2 ** (beyond - 1)))
}

const latestBlock = (counters: ReadonlyArray<ThrottleCounter>) =>
  Math.max(...counters.map((counter) => counter.blockedUntil?.getTime() ?? 0))

const tooMany = (until: number, now: number) =>
  new TooManyLoginAttempts({
    message: "Too many failed sign-ins. Wait before trying again.",
    retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000))
  })

type Verdict =
  | { readonly _tag: "Admitted"; readonly wait: Duration.Duration }
  | { readonly _tag: "Blocked"; readonly until: number }

export class LoginThrottle extends Effect.Service<LoginThrottle>()("@nestfleet/core/LoginThrottle", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const repo = yield* LoginFailuresRepo
    const config = yield* AuthConfig

    const limitOf = (counter: ThrottleCounter) =>
      counter.scope === "address" ? config.throttlePerAddress : config.throttlePerEmailAndAddress

    /** `counter` with this attempt counted, and blocked if that took it past its limit. */
    const counted = (counter: ThrottleCounter, now: number) =>
      counter.scope === "email"
        ? withAttempt(counter, now, config.slowdownPerEmail.windowSeconds)
        : blockedPastLimit(withAttempt(counter, now, limitOf(counter).windowSeconds), now, limitOf(counter))

    const decide = (keys: ReadonlyArray<ThrottleKey>, now: number) =>
      Effect.gen(function*() {
        const counters = yield* repo.lock(keys, new Date(now))
        const blocked = counters.filter((counter) => counter.scope !== "email" && isBlocked(counter, now))
        if (blocked.length > 0) return { _tag: "Blocked", until: latestBlock(blocked) } satisfies Verdict
        const next = counters.map((counter) => counted(counter, now))
        const over = next.filter((counter) => isBlocked(counter, now))
        if (over.length > 0) {
          // Refused before any password was checked: not a guess, so the email's count stays as it was.
          yield* repo.save(next.filter((counter) => counter.scope !== "email"), new Date(now))
          return { _tag: "Blocked", until: latestBlock(over) } satisfies Verdict
        }
        yield* repo.save(next, new Date(now))
        const email = next.find((counter) => counter.scope === "email")
        return { _tag: "Admitted", wait: slowdownOf(email?.failures ?? 0, config.slowdownPerEmail) } satisfies Verdict
      })

    /**
     * Counts a sign-in attempt before its password is checked: fails when the (email, address)
     * pair or the address is blocked, or this attempt takes one past its limit; otherwise waits
     * as long as the email's slow-down says (outside the transaction: no lock is held meanwhile).
     */
    const admit = Effect.fn("LoginThrottle.admit")(function*(email: string, address: Option.Option<string>) {
      const now = yield* Clock.currentTimeMillis
      const verdict = yield* transactions.withTransaction(decide(keysOf(email, address), now))
      if (verdict._tag === "Blocked") return yield* tooMany(verdict.until, now)
      yield* Effect.annotateCurrentSpan("slowdownMillis", Duration.toMillis(verdict.wait))
      // No wait is no timer: most sign-ins have none, and a timer would cost each a tick.
      return yield* Duration.isZero(verdict.wait) ? Effect.void : Effect.sleep(verdict.wait)
    }, orDieUnexpected)

    /** Gives back a successful attempt, and forgets the email's failures from this address. */
    const recordSuccess = Effect.fn("LoginThrottle.recordSuccess")(
      function*(email: string, address: Option.Option<string>) {
        const now = yield* Clock.currentTimeMillis
        yield* transactions.withTransaction(Effect.gen(function*() {
          const counters = yield* repo.lock(keysOf(email, address), new Date(now))
          yield* repo.save(
            counters.map((counter) =>
              counter.scope === "email_address"
                ? { ...counter, failures: 0, blockedUntil: null }
                : { ...counter, failures: Math.max(0, counter.failures - 1) }
            ),
            new Date(now)
          )
        }))
      },
      orDieUnexpected
    )

    return { admit, recordSuccess } as const
  }),
  dependencies: [Transactions.Default, LoginFailuresRepo.Default]
}) {}
