/**
 * The sign-in throttle's policy, as rules: LoginThrottle over counters kept in memory by a
 * partial `LoginFailuresRepo` double, with the default configuration and `it.effect`'s
 * `TestClock`, so a slow-down's wait and a block's end are `TestClock.adjust`, not waiting.
 * (The same policy on the real server, with two client addresses, is in
 * apps/api/test/Auth.test.ts.)
 */
import { expect, it } from "@effect/vitest"
import { LoginFailuresRepo, type ThrottleCounter } from "@nestfleet/db/LoginFailuresRepo"
import { Transactions } from "@nestfleet/db/Transactions"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { ConfigProvider, Duration, Effect, Either, Fiber, Layer, Option, TestClock } from "effect"
import { LoginThrottle } from "../src/LoginThrottle.js"

/** The counters as the real repository keeps them, in memory. */
const inMemoryCounters = () => {
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
    save: (saved) => Effect.sync(() => saved.forEach((counter) => counters.set(idOf(counter), counter)))
  }
  return repo
}

/** LoginThrottle over the double: the layers a developer gives it to test it alone. */
const throttleLayer = () =>
  LoginThrottle.DefaultWithoutDependencies.pipe(
    Layer.provide([makeTestLayer(LoginFailuresRepo)(inMemoryCounters()), Transactions.Passthrough]),
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
    expect(yield* attempt("ADMIN@example.com ", attacker)).toEqual({ refused: 15 * 60 - 1 })
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
