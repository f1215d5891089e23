/**
 * PostgreSQL's LISTEN/NOTIFY, for telling the other processes on the database that
 * something they keep changed.
 *
 * - `Server`: each subscription holds a connection of its own, outside the pool (a pooled
 *   connection would go back to the pool still listening). A dropped connection is opened
 *   again, with a growing pause between attempts; since what was announced meanwhile is
 *   lost, `onSubscribed` runs each time, for the subscriber to forget what it kept.
 * - `Embedded`: the database lives in this process only, and its one session delivers the
 *   notifications (see `Database.listen`); nothing else can be announcing.
 */
import { Deferred, Duration, Effect, Redacted, Schedule, type Scope } from "effect"
import pg from "pg"
import { Database } from "./Database.js"

export interface Subscriber {
  readonly onNotification: (payload: string) => void
  /** The subscription is in place (again): what was announced before it may have been missed. */
  readonly onSubscribed: () => void
}

const reconnecting = Schedule.exponential("250 millis").pipe(Schedule.union(Schedule.spaced("10 seconds")))

/** How long `listen` waits for its first connection before going on and connecting in the background. */
const firstConnectionWithin = Duration.seconds(10)

const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** One LISTEN session on its own connection: fails when the connection is lost. */
const session = (connectionString: string, topic: string, subscriber: Subscriber, connected: Effect.Effect<void>) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* Effect.acquireRelease(
      Effect.tryPromise(async () => {
        const client = new pg.Client({ connectionString, application_name: "nestfleet-listen" })
        // Errors before `connect` resolves reject it; afterwards they end the session below.
        client.on("error", () => {})
        await client.connect()
        return client
      }),
      (client) => Effect.promise(() => client.end().catch(() => {}))
    )
    const lost = Effect.async<never, Error>((resume) => {
      client.on("error", (error) => resume(Effect.fail(error)))
      client.on("end", () => resume(Effect.fail(new Error("the connection ended"))))
    })
    client.on("notification", (message) => {
      if (message.channel === topic) subscriber.onNotification(message.payload ?? "")
    })
    yield* Effect.tryPromise(() => client.query(`LISTEN ${pg.escapeIdentifier(topic)}`))
    yield* connected
    return yield* lost
  }))

export class Notifications extends Effect.Service<Notifications>()("@nestfleet/db/Notifications", {
  effect: Effect.gen(function*() {
    const database = yield* Database

    /** Calls `subscriber` for every notification on `topic`, for the life of the scope. */
    const listen = (topic: string, subscriber: Subscriber): Effect.Effect<void, never, Scope.Scope> => {
      const backend = database.backend
      switch (backend._tag) {
        case "Embedded":
          return Effect.acquireRelease(
            Effect.promise(() => backend.listen(topic, subscriber.onNotification)),
            (unlisten) => Effect.promise(unlisten)
          ).pipe(Effect.zipRight(Effect.sync(subscriber.onSubscribed)))
        case "Server":
          return Effect.gen(function*() {
            const firstConnection = yield* Deferred.make<void>()
            const subscribed = Effect.zipRight(Effect.sync(subscriber.onSubscribed), Deferred.succeed(firstConnection, undefined))
            yield* session(Redacted.value(backend.url), topic, subscriber, Effect.asVoid(subscribed)).pipe(
              Effect.tapError((cause) =>
                Effect.logWarning(`The LISTEN connection for ${topic} failed; connecting again`).pipe(
                  Effect.annotateLogs("reason", reason(cause))
                )
              ),
              Effect.retry(reconnecting),
              Effect.forkScoped
            )
            yield* Deferred.await(firstConnection).pipe(Effect.timeout(firstConnectionWithin), Effect.ignore)
          })
      }
    }

    return { listen } as const
  })
}) {}
