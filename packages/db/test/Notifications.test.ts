import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Option, Ref, Schedule, Scope } from "effect"
import * as Database from "../src/Database.js"
import { Heartbeat, Notifications } from "../src/Notifications.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"

const topic = "nestfleet_test_topic"

/** A subscriber that records what it hears and how often it was (re)subscribed. */
const recording = Effect.gen(function*() {
  const heard = yield* Ref.make<ReadonlyArray<string>>([])
  const subscriptions = yield* Ref.make(0)
  return {
    heard,
    subscriptions,
    subscriber: {
      onNotification: (payload: string) => Ref.update(heard, (all) => [...all, payload]),
      onSubscribed: Ref.update(subscriptions, (n) => n + 1)
    }
  }
})

const notify = (payload: string) =>
  Effect.flatMap(Database.Database, ({ pool }) => Effect.promise(() => pool.query("select pg_notify($1, $2)", [topic, payload])))

const eventually = <A, E, R>(check: Effect.Effect<A, E, R>) =>
  Effect.retry(check, Schedule.spaced("20 millis").pipe(Schedule.upTo("15 seconds")))

const expectHeard = (heard: Ref.Ref<ReadonlyArray<string>>, payload: string) =>
  eventually(Effect.filterOrFail(Ref.get(heard), (all) => all.includes(payload), () => `${payload} not heard yet`))

describe("Notifications", () => {
  it.scopedLive("hears what is announced on its topic once the subscription is in place", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Notifications.Default.pipe(Layer.provideMerge(TestDatabase.layerDatabase)))
      const { heard, subscriber, subscriptions } = yield* recording
      yield* Context.get(context, Notifications).listen(topic, subscriber)
      expect(yield* Ref.get(subscriptions)).toBe(1)
      yield* notify("channel-1").pipe(Effect.provide(context))
      yield* expectHeard(heard, "channel-1")
    }))

  it.scopedLive.skipIf(TestDatabase.mode === "embedded")(
    "a connection that stops answering is found by the heartbeat and opened again, and the subscriber told (needs TEST_DATABASE_URL: a server behind a proxy)",
    () =>
      Effect.gen(function*() {
        const { proxy, url } = yield* TestDatabase.createProxiedServerDatabase(Option.getOrThrow(TestDatabase.serverUrl))
        const context = yield* Layer.build(
          Notifications.Default.pipe(Layer.provideMerge(Database.layerServer({ url, poolMax: 2 })))
        )
        const { heard, subscriber, subscriptions } = yield* recording
        yield* Context.get(context, Notifications).listen(topic, subscriber).pipe(
          Effect.provideService(Heartbeat, { every: Duration.millis(200), timeout: Duration.millis(500) })
        )
        yield* notify("before").pipe(Effect.provide(context))
        yield* expectHeard(heard, "before")

        // Every byte now waits 3 s in the proxy: the connection is open but answers nothing.
        yield* proxy.setDelay(3_000)
        yield* Effect.sleep("1500 millis")
        yield* proxy.setDelay(0)
        yield* eventually(Effect.filterOrFail(Ref.get(subscriptions), (n) => n >= 2, (n) => `subscribed ${n} times`))
        yield* notify("after").pipe(Effect.provide(context))
        yield* expectHeard(heard, "after")
      }),
    60_000
  )

  it.scopedLive.skipIf(TestDatabase.mode === "embedded")(
    "closing the subscription does not wait for a server that is gone or has stopped answering (needs TEST_DATABASE_URL: a server behind a proxy)",
    () =>
      Effect.gen(function*() {
        const { proxy, url } = yield* TestDatabase.createProxiedServerDatabase(Option.getOrThrow(TestDatabase.serverUrl))
        const context = yield* Layer.build(Notifications.Default.pipe(Layer.provideMerge(Database.layerServer({ url, poolMax: 1 }))))
        const { subscriber, subscriptions } = yield* recording
        const subscription = yield* Scope.make()
        // A heartbeat that would wait 30 s for its answer: only interruption can end it sooner.
        yield* Context.get(context, Notifications).listen(topic, subscriber).pipe(
          Effect.provideService(Heartbeat, { every: Duration.millis(100), timeout: Duration.seconds(30) }),
          Scope.extend(subscription)
        )
        expect(yield* Ref.get(subscriptions)).toBe(1)
        // The server goes away: the subscription is trying to open again, and never can.
        yield* proxy.cut
        yield* Effect.sleep("600 millis")
        const closed = yield* Scope.close(subscription, Exit.void).pipe(Effect.timeout("3 seconds"), Effect.exit)
        expect(Exit.isSuccess(closed)).toBe(true)
        yield* proxy.restore

        // Open, then silent: the heartbeat's wait is what closing has to end.
        const again = yield* Scope.make()
        yield* Context.get(context, Notifications).listen(topic, subscriber).pipe(
          Effect.provideService(Heartbeat, { every: Duration.millis(100), timeout: Duration.seconds(30) }),
          Scope.extend(again)
        )
        expect(yield* Ref.get(subscriptions)).toBe(2)
        yield* proxy.setDelay(60_000)
        yield* Effect.sleep("300 millis")
        const closedSilent = yield* Scope.close(again, Exit.void).pipe(Effect.timeout("3 seconds"), Effect.exit)
        expect(Exit.isSuccess(closedSilent)).toBe(true)
        yield* proxy.setDelay(0)
      }),
    60_000
  )
})
