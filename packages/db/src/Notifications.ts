/**
 * PostgreSQL's LISTEN/NOTIFY, for telling the other processes on the database that
 * something they keep changed.
 *
 * - `Server`: each subscription holds a connection of its own, outside the pool (a pooled
 *   connection would go back to the pool still listening). The connection is checked
 *   every `Heartbeat.every` (TCP keep-alive alone can take hours to notice a dead peer);
 *   a connection found lost is opened again, the attempts backing off from 250 ms to 10 s
 *   and starting over from 250 ms on the next loss. What was announced meanwhile is lost,
 *   so `onSubscribed` runs every time the subscription is in place, for the subscriber to
 *   forget what it kept.
 * - `Embedded`: the database lives in this process only, and its one session delivers the
 *   notifications (see `Database.listen`); nothing else can be announcing.
 */
import { Context, Data, Deferred, Duration, Effect, Redacted, Runtime, Schedule, type Scope } from "effect"
import pg from "pg"
import { Database } from "./Database.js"

export interface Subscriber {
  readonly onNotification: (payload: string) => Effect.Effect<void>
  /** The subscription is in place (again): what was announced before it may have been missed. */
  readonly onSubscribed: Effect.Effect<void>
}

/** The LISTEN connection for `topic` could not be opened, or was lost. */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly topic: string
  readonly reason: string
}> {
  override get message() {
    return `LISTEN ${this.topic}: ${this.reason}`
  }
}

const reconnecting = Schedule.exponential("250 millis").pipe(Schedule.union(Schedule.spaced("10 seconds")))

/**
 * How often a server subscription's connection is checked, and how long a check (or an
 * attempt to connect) may take before the connection counts as lost.
 */
export class Heartbeat extends Context.Reference<Heartbeat>()("@nestfleet/db/Notifications/Heartbeat", {
  defaultValue: () => ({ every: Duration.seconds(30), timeout: Duration.seconds(10) })
}) {}

/** How long `listen` waits for its first connection before going on and connecting in the background. */
const firstConnectionWithin = Duration.seconds(10)

const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/**
 * A connection listening on `topic`, and what fails when it is lost. The handlers that
 * notice a loss are in place before it connects, so no loss goes unseen.
 */
const open = (connectionString: string, topic: string, deliver: (payload: string) => void) =>
  Effect.gen(function*() {
    const { timeout } = yield* Heartbeat
    const lost = yield* Deferred.make<never, ListenFailed>()
    const loseWith = (cause: unknown) => Deferred.unsafeDone(lost, Effect.fail(new ListenFailed({ topic, reason: reason(cause) })))
    const client = new pg.Client({
      connectionString,
      application_name: "nestfleet-listen",
      keepAlive: true,
      connectionTimeoutMillis: Duration.toMillis(timeout)
    })
    client.on("error", loseWith)
    client.on("end", () => loseWith("the connection ended"))
    client.on("notification", (message) => {
      if (message.channel === topic) deliver(message.payload ?? "")
    })
    yield* Effect.tryPromise({
      try: async () => {
        try {
          await client.connect()
          await client.query(`LISTEN ${pg.escapeIdentifier(topic)}`)
        } catch (error) {
          await client.end().catch(() => {})
          throw error
        }
      },
      catch: (cause) => new ListenFailed({ topic, reason: reason(cause) })
    })
    return { client, lost }
  })

export class Notifications extends Effect.Service<Notifications>()("@nestfleet/db/Notifications", {
  effect: Effect.gen(function*() {
    const database = yield* Database

    /** Runs `subscriber` for every notification on `topic`, for the life of the scope. */
    const listen = (topic: string, subscriber: Subscriber): Effect.Effect<void, never, Scope.Scope> =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<never>()
        // Notifications arrive in the driver's event handlers: each runs as a fiber of its own.
        const deliver = (payload: string) => void Runtime.runFork(runtime)(subscriber.onNotification(payload))
        const backend = database.backend
        if (backend._tag === "Embedded") {
          yield* Effect.acquireRelease(
            Effect.promise(() => backend.listen(topic, deliver)),
            (unlisten) => Effect.promise(unlisten)
          )
          return yield* subscriber.onSubscribed
        }

        const firstConnection = yield* Deferred.make<void>()
        const opened = open(Redacted.value(backend.url), topic, deliver).pipe(
          Effect.tapError((error) => Effect.logWarning("Cannot LISTEN; trying again").pipe(Effect.annotateLogs("reason", error.message))),
          Effect.retry(reconnecting)
        )
        /** One connection's life: opened (retrying), subscribed, checked, until it is lost. */
        const heartbeat = yield* Heartbeat
        const session = Effect.scoped(Effect.gen(function*() {
          const { client, lost } = yield* Effect.acquireRelease(
            opened,
            // A lost connection may not end gracefully: the next one does not wait for it.
            ({ client }) => Effect.ignore(Effect.timeout(Effect.promise(() => client.end().catch(() => {})), heartbeat.timeout))
          )
          yield* subscriber.onSubscribed
          yield* Deferred.succeed(firstConnection, undefined)
          yield* Effect.tryPromise(() => client.query("select 1")).pipe(
            Effect.timeoutFail({ duration: heartbeat.timeout, onTimeout: () => "no answer to the heartbeat" }),
            Effect.repeat(Schedule.spaced(heartbeat.every)),
            Effect.catchAll((cause) => Deferred.fail(lost, new ListenFailed({ topic, reason: reason(cause) }))),
            Effect.forkScoped
          )
          return yield* Deferred.await(lost)
        }))
        yield* session.pipe(
          Effect.catchAll((error) =>
            Effect.logWarning("Lost the LISTEN connection; opening it again").pipe(Effect.annotateLogs("reason", error.message))
          ),
          Effect.forever,
          Effect.forkScoped
        )
        yield* Deferred.await(firstConnection).pipe(Effect.timeout(firstConnectionWithin), Effect.ignore)
      })

    return { listen } as const
  })
}) {}
