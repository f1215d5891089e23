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
 *
 * An email is counted in the form the database matches it in (`UsersRepo.emailKey`, its
 * `lower()`): then every spelling that signs in to one account counts against that account,
 * whatever the database's locale makes of letters like `İ` — and an unknown email's spellings
 * are counted together by the same rule, so how they are counted says nothing either.
 *
 * An IPv6 client is counted by its /64 (see `addressKey`): a customer usually holds a whole
 * /64, and counted per address they would have a budget per address in it.
 *
 * Counters with nothing left to say — a window passed without a block, or a block ended — are
 * deleted a few at a time by each sign-in, before it counts (`LoginFailuresRepo.prune`): the
 * emails in the keys are the client's choice, so nothing else bounds how many there are.
 */
import { Transactions } from "@nestfleet/db/Transactions"
import { LoginFailuresRepo, type ThrottleCounter, type ThrottleKey } from "@nestfleet/db/LoginFailuresRepo"
import { UsersRepo } from "@nestfleet/db/UsersRepo"
import { TooManyLoginAttempts } from "@nestfleet/domain/AuthApi"
import { Clock, Data, Duration, Effect, Option } from "effect"
import { isIPv4, isIPv6 } from "node:net"
import { AuthConfig, type LoginSlowdownPolicy, type LoginThrottlePolicy } from "./AuthConfig.js"
import { orDieUnexpected } from "./Unexpected.js"

/** The eight 16-bit groups of an IPv6 address (which `isIPv6` has accepted), `::` expanded. */
const ipv6Groups = (address: string): Array<number> => {
  const [head, tail] = address.includes("::") ? address.split("::") as [string, string] : [address, undefined]
  const groupsOf = (part: string) =>
    part === ""
      ? []
      : part.split(":").flatMap((group) => {
        if (!group.includes(".")) return [parseInt(group, 16)]
        // A dotted IPv4 tail: the last 32 bits.
        const [a, b, c, d] = group.split(".").map(Number) as [number, number, number, number]
        return [(a << 8) | b, (c << 8) | d]
      })
  const front = groupsOf(head)
  if (tail === undefined) return front
  const back = groupsOf(tail)
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back]
}

/**
 * The address a client is counted by: an IPv6 address by its /64 prefix (`2001:db8:1:2::/64`),
 * an IPv4 one — also written IPv4-mapped, `::ffff:192.0.2.1`, as a dual-stack socket reports
 * it — by itself; anything else (not an address) as it is.
 */
export const addressKey = (address: string): string => {
  if (isIPv4(address)) return address
  // A zone (`fe80::1%eth0`) names the server's interface, not the client.
  const bare = address.split("%")[0]!
  if (!isIPv6(bare)) return address
  const groups = ipv6Groups(bare.toLowerCase())
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join(".")
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(":")}::/64`
}

/**
 * The keys an attempt counts against, by the email's key. A request without an address (a
 * Unix socket) shares the (email, address) key with every other such request, and has no
 * address key.
 */
const keysOf = (emailKey: string, address: Option.Option<string>): ReadonlyArray<ThrottleKey> => {
  const counted = Option.map(address, addressKey)
  return [
    { scope: "email_address", key: JSON.stringify([Option.getOrElse(counted, () => ""), emailKey]) },
    ...Option.match(counted, {
      onNone: () => [],
      onSome: (address): ReadonlyArray<ThrottleKey> => [{ scope: "address", key: address }]
    }),
    { scope: "email", key: emailKey }
  ]
}

/** How many worthless counters of each kind a sign-in prunes: more than the three one can add. */
const pruneBatch = 10

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

type Verdict = Data.TaggedEnum<{
  Admitted: { readonly wait: Duration.Duration }
  Blocked: { readonly until: number }
}>
const Verdict = Data.taggedEnum<Verdict>()

export class LoginThrottle extends Effect.Service<LoginThrottle>()("@nestfleet/core/LoginThrottle", {
  effect: Effect.gen(function*() {
    const transactions = yield* Transactions
    const repo = yield* LoginFailuresRepo
    const users = yield* UsersRepo
    const config = yield* AuthConfig
    // A counter whose window has passed under the longest window is past it under any.
    const longestWindowMillis = 1000 * Math.max(
      config.throttlePerEmailAndAddress.windowSeconds,
      config.throttlePerAddress.windowSeconds,
      config.slowdownPerEmail.windowSeconds
    )

    const limitOf = (counter: ThrottleCounter) =>
      counter.scope === "address" ? config.throttlePerAddress : config.throttlePerEmailAndAddress

    /** `counter` with this attempt counted, and blocked if that took it past its limit. */
    const counted = (counter: ThrottleCounter, now: number) =>
      counter.scope === "email"
        ? withAttempt(counter, now, config.slowdownPerEmail.windowSeconds)
        : blockedPastLimit(withAttempt(counter, now, limitOf(counter).windowSeconds), now, limitOf(counter))

    /** The keys of an attempt; the email's by a query, so inside the transaction that counts it. */
    const keysOfAttempt = (email: string, address: Option.Option<string>) =>
      Effect.map(users.emailKey(email), (key) => keysOf(key, address))

    const decide = (email: string, address: Option.Option<string>, now: number) =>
      Effect.gen(function*() {
        // Before this attempt's own counters are locked, so none is deleted under it; one of
        // its own that goes is one it would have started over, and is made again.
        yield* repo.prune({
          at: new Date(now),
          windowStartedBefore: new Date(now - longestWindowMillis),
          batch: pruneBatch
        })
        const counters = yield* repo.lock(yield* keysOfAttempt(email, address), new Date(now))
        const blocked = counters.filter((counter) => counter.scope !== "email" && isBlocked(counter, now))
        if (blocked.length > 0) return Verdict.Blocked({ until: latestBlock(blocked) })
        const next = counters.map((counter) => counted(counter, now))
        const over = next.filter((counter) => isBlocked(counter, now))
        if (over.length > 0) {
          // Refused before any password was checked: not a guess, so the email's count stays as it was.
          yield* repo.save(next.filter((counter) => counter.scope !== "email"), new Date(now))
          return Verdict.Blocked({ until: latestBlock(over) })
        }
        yield* repo.save(next, new Date(now))
        const fromEverywhere = next.find((counter) => counter.scope === "email")
        return Verdict.Admitted({ wait: slowdownOf(fromEverywhere?.failures ?? 0, config.slowdownPerEmail) })
      })

    /**
     * Counts a sign-in attempt before its password is checked: fails when the (email, address)
     * pair or the address is blocked, or this attempt takes one past its limit; otherwise waits
     * as long as the email's slow-down says (outside the transaction: no lock is held meanwhile).
     */
    const admit = Effect.fn("LoginThrottle.admit")(function*(email: string, address: Option.Option<string>) {
      const now = yield* Clock.currentTimeMillis
      const verdict = yield* transactions.withTransaction(decide(email, address, now))
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
          const counters = yield* repo.lock(yield* keysOfAttempt(email, address), new Date(now))
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
  dependencies: [Transactions.Default, LoginFailuresRepo.Default, UsersRepo.Default]
}) {}
