/**
 * The sign-in throttle's policy, as rules: LoginThrottle over counters kept in memory by a
 * partial `LoginFailuresRepo` double, with the default configuration and `it.effect`'s
 * `TestClock`, so a slow-down's wait and a block's end are `TestClock.adjust`, not waiting.
 * Emails are keyed by a `UsersRepo` double lowering them as this server's database does
 * (`İ` to `i`). (The same policy on the real server, with two client addresses, is in
 * apps/api/test/Auth.test.ts, and so is pruning, which is SQL.)
 */
import { expect, it } from "@effect/vitest"
import { LoginFailuresRepo, type ThrottleCounter } from "@nestfleet/db/LoginFailuresRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { UsersRepo } from "@nestfleet/db/UsersRepo"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { ConfigProvider, Duration, Effect, Either, Fiber, Layer, Option, TestClock } from "effect"
import { addressKey, LoginThrottle } from "../src/LoginThrottle.js"

/** The counters as the real repository keeps them, in memory; `prunes` records each prune asked for. */
const inMemoryCounters = (prunes: Array<{ readonly at: Date; readonly windowStartedBefore: Date }> = []) => {
  const counters = new Map<string, ThrottleCounter>()
  const idOf = (key: { readonly scope: string; readonly key: string }) => `${key.scope} ${key.key}`
  const repo: Partial<LoginFailuresRepo> = {
    lock: (keys, at) =>
      Effect.sync(() =>
        keys.map((key) => {
          const counter = counters.get(idOf(key)) ?? { ...key, failures: 0, windowStartedAt: at, blockedUntil: null }
          counters.set(idOf(key), counter)
          return counter
        })
      ),
    save: (saved) => Effect.sync(() => saved.forEach((counter) => counters.set(idOf(counter), counter))),
    prune: ({ at, windowStartedBefore }) => Effect.sync(() => prunes.push({ at, windowStartedBefore }))
  }
  return repo
}

/** LoginThrottle over the double: the layers a developer gives it to test it alone. */
const throttleLayer = (prunes?: Array<{ readonly at: Date; readonly windowStartedBefore: Date }>) =>
  LoginThrottle.DefaultWithoutDependencies.pipe(
    Layer.provide([
      makeTestLayer(LoginFailuresRepo)(inMemoryCounters(prunes)),
      // PostgreSQL's lower() in this server's locale: İ (U+0130) is i.
      makeTestLayer(UsersRepo)({ emailKey: (email) => Effect.succeed(email.replaceAll("İ", "i").toLowerCase()) }),
      Transactions.Passthrough
    ]),
    // The defaults: 5 per (email, address), 50 per address, 15 minutes; slow-down after 5, at most 10 s.
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map())))
  )

const attacker = Option.some("203.0.113.1")
const owner = Option.some("198.51.100.7")

/** Admits an attempt and answers how long it waited (on the TestClock), or the 429's Retry-After. */
const attempt = (email: string, address: Option.Option<string>) =>
  Effect.gen(function*() {
    const throttle = yield* LoginThrottle
    const fiber = yield* Effect.fork(Effect.either(throttle.admit(email, address)))
    let waited = Duration.zero
    // Let the attempt run until it is through or asleep; step the clock a quarter second while it sleeps.
    while (Option.isNone(yield* Effect.zipRight(Effect.yieldNow(), Fiber.poll(fiber)))) {
      yield* TestClock.adjust("250 millis")
      waited = Duration.sum(waited, Duration.millis(250))
    }
    const outcome = yield* Fiber.join(fiber)
    return Either.isLeft(outcome)
      ? { refused: outcome.left.retryAfterSeconds }
      : { waitedSeconds: Duration.toSeconds(waited) }
  })

const failures = (count: number, email: string, address: (i: number) => Option.Option<string>) =>
  Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => attempt(email, address(i)))

it.effect("five failures for an email from one address block that address for it for 15 minutes; the owner elsewhere is let in", () =>
  Effect.gen(function*() {
    expect(yield* failures(5, "admin@example.com", () => attacker)).toEqual(Array(5).fill({ waitedSeconds: 0 }))
    expect(yield* attempt("admin@example.com", attacker)).toEqual({ refused: 15 * 60 })
    expect(yield* attempt("admin@example.com", owner)).toEqual({ waitedSeconds: 1 })
    // The owner's success does not lift the attacker's block (a second shorter now).
    yield* Effect.flatMap(LoginThrottle, (throttle) => throttle.recordSuccess("admin@example.com", owner))
    expect(yield* attempt("ADMIN@example.com", attacker)).toEqual({ refused: 15 * 60 - 1 })
    // The block ends, and counting starts over.
    yield* TestClock.adjust("15 minutes")
    expect(yield* attempt("admin@example.com", attacker)).toMatchObject({ waitedSeconds: expect.any(Number) })
  }).pipe(Effect.provide(throttleLayer())))

it.effect("an email's failures from many addresses slow its sign-ins: 1 s doubling to at most 10 s, never a block", () =>
  Effect.gen(function*() {
    const waits = yield* failures(12, "admin@example.com", (i) => Option.some(`192.0.2.${i}`))
    expect(waits.map((outcome) => outcome.waitedSeconds)).toEqual([0, 0, 0, 0, 0, 1, 2, 4, 8, 10, 10, 10])
    // A new window starts the count over.
    yield* TestClock.adjust("15 minutes")
    expect(yield* attempt("admin@example.com", owner)).toEqual({ waitedSeconds: 0 })
  }).pipe(Effect.provide(throttleLayer())))

it.effect("fifty failures from one address, whatever emails they name, block the address for every email", () =>
  Effect.gen(function*() {
    const outcomes = yield* Effect.forEach(
      Array.from({ length: 50 }, (_, i) => `guess${i}@example.com`),
      (email) => attempt(email, attacker)
    )
    expect(outcomes.every((outcome) => "waitedSeconds" in outcome)).toBe(true)
    expect(yield* attempt("someone.else@example.com", attacker)).toEqual({ refused: 15 * 60 })
    expect(yield* attempt("someone.else@example.com", owner)).toEqual({ waitedSeconds: 0 })
  }).pipe(Effect.provide(throttleLayer())))

it.effect("a success gives its attempt back and forgets the email's failures from that address", () =>
  Effect.gen(function*() {
    const throttle = yield* LoginThrottle
    yield* failures(4, "ada@example.com", () => owner)
    yield* attempt("ada@example.com", owner)
    yield* throttle.recordSuccess("ada@example.com", owner)
    // Five more tries from there before a block: the typos were forgiven...
    const tries = yield* failures(5, "ada@example.com", () => owner)
    expect(tries.every((outcome) => "waitedSeconds" in outcome)).toBe(true)
    expect(yield* attempt("ada@example.com", owner)).toEqual({ refused: 15 * 60 })
    // ...but the email's count from everywhere only lost the successful attempt: 4, then these five.
    expect(tries.map((outcome) => outcome.waitedSeconds)).toEqual([0, 1, 2, 4, 8])
  }).pipe(Effect.provide(throttleLayer())))

it.effect("an email is counted by the key the database matches it by: every spelling of one account counts together", () =>
  Effect.gen(function*() {
    // JavaScript lowers İ to i and a combining dot; this database, to i, and signs admİn in as admin.
    expect("admİn@example.com".toLowerCase()).not.toBe("admin@example.com")
    yield* failures(3, "admİn@example.com", () => attacker)
    yield* failures(2, "ADMIN@example.com", () => attacker)
    expect(yield* attempt("Admin@Example.com", attacker)).toEqual({ refused: 15 * 60 })
    expect(yield* attempt("admİn@example.com", attacker)).toEqual({ refused: 15 * 60 })
  }).pipe(Effect.provide(throttleLayer())))

it("addressKey: IPv6 by its /64, however written; IPv4 and IPv4-mapped IPv6 by the address", () => {
  expect(addressKey("203.0.113.9")).toBe("203.0.113.9")
  expect(addressKey("::ffff:203.0.113.9")).toBe("203.0.113.9")
  expect(addressKey("::FFFF:cb00:7109")).toBe("203.0.113.9")
  expect(addressKey("0:0:0:0:0:ffff:203.0.113.9")).toBe("203.0.113.9")
  const ofOnePrefix = ["2001:db8:1:2::1", "2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "2001:DB8:1:2:3:4:5:6", "2001:db8:1:2::198.51.100.1"]
  for (const address of ofOnePrefix) {
    expect([address, addressKey(address)]).toEqual([address, "2001:db8:1:2::/64"])
  }
  expect(addressKey("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64")
  expect(addressKey("2001:db8::")).toBe("2001:db8:0:0::/64")
  expect(addressKey("::1")).toBe("0:0:0:0::/64")
  expect(addressKey("::")).toBe("0:0:0:0::/64")
  expect(addressKey("1:2:3:4:5:6:7::")).toBe("1:2:3:4::/64")
  expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64")
  // Not an address (a proxy's odd header): counted as it is.
  expect(addressKey("unknown")).toBe("unknown")
  expect(addressKey("2001:db8:::1")).toBe("2001:db8:::1")
})

it.effect("the addresses of one IPv6 /64 share one address budget; the next /64 has its own", () =>
  Effect.gen(function*() {
    const outcomes = yield* Effect.forEach(
      Array.from({ length: 50 }, (_, i) => i),
      (i) => attempt(`guess${i}@example.com`, Option.some(`2001:db8:1:2::${(i + 1).toString(16)}`))
    )
    expect(outcomes.every((outcome) => "waitedSeconds" in outcome)).toBe(true)
    expect(yield* attempt("someone.else@example.com", Option.some("2001:db8:1:2:ffff::77"))).toEqual({ refused: 15 * 60 })
    expect(yield* attempt("someone.else@example.com", Option.some("2001:db8:1:3::1"))).toEqual({ waitedSeconds: 0 })
  }).pipe(Effect.provide(throttleLayer())))

it.effect("each attempt prunes counters whose window, the longest there is, has passed", () =>
  Effect.gen(function*() {
    const prunes: Array<{ readonly at: Date; readonly windowStartedBefore: Date }> = []
    yield* TestClock.setTime(60 * 60_000)
    yield* Effect.provide(attempt("ada@example.com", owner), throttleLayer(prunes))
    expect(prunes).toEqual([{ at: new Date(60 * 60_000), windowStartedBefore: new Date(45 * 60_000) }])
  }))
