/**
 * A small read-through cache for lookups on a request's hot path: each key's value is kept
 * for a fixed time, the oldest keys make room past the capacity, and `invalidate` forgets a
 * key at once (`invalidateAll`, every key). Failures are not kept.
 *
 * Effect's `Cache` does this and more (in-flight lookups shared, statistics), at a cost per
 * hit that showed in `pnpm bench ingest`; here a hit is one map lookup. Concurrent misses of
 * one key each run the lookup; a lookup that was running when its key was invalidated does
 * not store what it read.
 */
import { Clock, Duration, Effect } from "effect"

export interface TimedCache<K, A, E, R> {
  readonly get: (key: K) => Effect.Effect<A, E, R>
  readonly invalidate: (key: K) => Effect.Effect<void>
  readonly invalidateAll: Effect.Effect<void>
}

interface Entry<A> {
  readonly value: A
  readonly expiresAt: number
}

export const make = <K, A, E, R>(options: {
  readonly capacity: number
  readonly timeToLive: Duration.DurationInput
  readonly lookup: (key: K) => Effect.Effect<A, E, R>
}): Effect.Effect<TimedCache<K, A, E, R>> =>
  Effect.sync(() => {
    const timeToLive = Duration.toMillis(options.timeToLive)
    const entries = new Map<K, Entry<A>>()
    // Bumped on every invalidation; a lookup that saw another version leaves its result unstored.
    let version = 0

    const store = (key: K, value: A, now: number) => {
      entries.delete(key)
      entries.set(key, { value, expiresAt: now + timeToLive })
      if (entries.size > options.capacity) entries.delete(entries.keys().next().value!)
    }

    const get = (key: K): Effect.Effect<A, E, R> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const entry = entries.get(key)
        if (entry !== undefined && entry.expiresAt > now) return Effect.succeed(entry.value)
        const seen = version
        return Effect.tap(options.lookup(key), (value) => {
          if (version === seen) store(key, value, now)
        })
      })

    const invalidate = (key: K) =>
      Effect.sync(() => {
        version++
        entries.delete(key)
      })

    const invalidateAll = Effect.sync(() => {
      version++
      entries.clear()
    })

    return { get, invalidate, invalidateAll }
  })
