import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, TestClock } from "effect"
import * as TimedCache from "../src/TimedCache.js"

/** A cache over a lookup that counts its calls and answers `key:call`. */
const counting = (options: { readonly capacity?: number; readonly fail?: (key: string) => boolean } = {}) =>
  Effect.gen(function*() {
    const calls: Array<string> = []
    const cache = yield* TimedCache.make({
      capacity: options.capacity ?? 10,
      timeToLive: "5 seconds",
      lookup: (key: string) =>
        Effect.suspend(() => {
          calls.push(key)
          return options.fail?.(key) === true ? Effect.fail(`no ${key}`) : Effect.succeed(`${key}:${calls.length}`)
        })
    })
    return { cache, calls }
  })

describe("TimedCache", () => {
  it.effect("answers from the cache within the time to live, and looks up again after it", () =>
    Effect.gen(function*() {
      const { cache, calls } = yield* counting()
      expect(yield* cache.get("a")).toBe("a:1")
      yield* TestClock.adjust("4999 millis")
      expect(yield* cache.get("a")).toBe("a:1")
      yield* TestClock.adjust("1 millis")
      expect(yield* cache.get("a")).toBe("a:2")
      expect(calls).toEqual(["a", "a"])
    }))

  it.effect("forgets an invalidated key at once", () =>
    Effect.gen(function*() {
      const { cache, calls } = yield* counting()
      yield* cache.get("a")
      yield* cache.get("b")
      yield* cache.invalidate("a")
      expect(yield* cache.get("a")).toBe("a:3")
      expect(yield* cache.get("b")).toBe("b:2")
      expect(calls).toEqual(["a", "b", "a"])
    }))

  it.effect("forgets every key at once when told to", () =>
    Effect.gen(function*() {
      const { cache, calls } = yield* counting()
      yield* cache.get("a")
      yield* cache.get("b")
      yield* cache.invalidateAll
      expect(yield* cache.get("a")).toBe("a:3")
      expect(yield* cache.get("b")).toBe("b:4")
      expect(yield* cache.get("a")).toBe("a:3")
      expect(calls).toEqual(["a", "b", "a", "b"])
    }))

  it.effect("keeps no failure", () =>
    Effect.gen(function*() {
      const { cache, calls } = yield* counting({ fail: (key) => key === "bad" })
      expect(yield* Effect.flip(cache.get("bad"))).toBe("no bad")
      expect(yield* Effect.flip(cache.get("bad"))).toBe("no bad")
      expect(calls).toEqual(["bad", "bad"])
    }))

  it.effect("does not store what a lookup read when its key was invalidated meanwhile", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      let calls = 0
      const cache = yield* TimedCache.make({
        capacity: 10,
        timeToLive: "5 seconds",
        lookup: (_: string) =>
          Effect.suspend(() => {
            calls++
            return calls === 1
              ? Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(release), "stale"))
              : Effect.succeed("fresh")
          })
      })
      const slow = yield* Effect.fork(cache.get("a"))
      yield* Deferred.await(started)
      yield* cache.invalidate("a")
      yield* Deferred.succeed(release, undefined)
      expect(yield* Fiber.join(slow)).toBe("stale")
      expect(yield* cache.get("a")).toBe("fresh")
    }))

  it.effect("makes room past the capacity by dropping the least recently stored key", () =>
    Effect.gen(function*() {
      const { cache, calls } = yield* counting({ capacity: 2 })
      yield* cache.get("a")
      yield* cache.get("b")
      yield* cache.get("c")
      yield* cache.get("b")
      yield* cache.get("c")
      expect(calls).toEqual(["a", "b", "c"])
      yield* cache.get("a")
      expect(calls).toEqual(["a", "b", "c", "a"])
    }))
})
