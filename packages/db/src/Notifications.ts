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
 *   forget what it kept. Every step that waits on the server is bounded by
 *   `Heartbeat.timeout`, and every wait can be interrupted: closing the scope ends the
 *   subscription even while the server does not answer.
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

/** The LISTEN connection for `topic` could not be opened, or, once `subscribed`, was lost. */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly topic: string
  readonly reason: string
  readonly subscribed: boolean
}> {
  override get message() {
    return `LISTEN ${this.topic}: ${this.reason}`
  }
}

/**
 * How often a server subscription's connection is checked, and how long a check or a step
 * of opening it (connecting, LISTEN) may take before it counts as lost.
 */
export class Heartbeat extends Context.Reference<Heartbeat>()("@nestfleet/db/Notifications/Heartbeat", {
  defaultValue: () => ({ every: Duration.seconds(30), timeout: Duration.seconds(10) })
}) {}

const reconnecting = Schedule.exponential("250 millis").pipe(Schedule.union(Schedule.spaced("10 seconds")))

/** The pause after a loss before opening again: a server that drops every connection at once is not hammered. */
const pauseAfterLoss = Duration.millis(250)

/** How long `listen` waits for its first connection before going on and connecting in the background. */
const firstConnectionWithin = Duration.seconds(10)

const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** How long a closing connection may take to say goodbye (it holds no transaction) before it is cut. */
const closeWithin = Duration.seconds(1)

/**
 * Ends the client; one whose peer does not answer within `within` is cut. Finalizers run
 * uninterruptibly: the wait is made interruptible so that its timeout can end it.
 */
const close = (client: pg.Client, within: Duration.Duration) =>
  Effect.interruptible(Effect.promise(() => client.end().catch(() => {}))).pipe(
    Effect.timeoutTo({
      duration: within,
      onSuccess: () => Effect.void,
      onTimeout: () => Effect.sync(() => client.connection.stream.destroy())
    }),
    Effect.flatten
  )

/**
 * One connection's life on a server: opened, subscribed, checked, until it is lost. It is
 * closed however that ends. Fails with `subscribed: false` when it could not be opened.
 */
const session = (options: {
  readonly url: Redacted.Redacted
  readonly topic: string
  readonly deliver: (payload: string) => void
  readonly subscribed: Effect.Effect<void>
}) =>
  Effect.scoped(Effect.gen(function*() {
    const { timeout, every } = yield* Heartbeat
    const { deliver, topic } = options
    const failed = (subscribed: boolean) => (cause: unknown) => new ListenFailed({ topic, reason: reason(cause), subscribed })
    const opening = <A>(step: string, run: () => Promise<A>) =>
      Effect.tryPromise({ try: run, catch: failed(false) }).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => failed(false)(`${step} timed out`) })
      )

    const lost = yield* Deferred.make<never, ListenFailed>()
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new pg.Client({
          connectionString: Redacted.value(options.url),
          application_name: "nestfleet-listen",
          keepAlive: true
        })
        // In place before connecting, so that no loss goes unseen.
        const loseWith = (cause: unknown) => Deferred.unsafeDone(lost, Effect.fail(failed(true)(cause)))
        client.on("error", loseWith)
        client.on("end", () => loseWith("the connection ended"))
        client.on("notification", (message) => {
          if (message.channel === topic) deliver(message.payload ?? "")
        })
        return client
      }),
      (client) => close(client, closeWithin)
    )
    yield* opening("connecting", () => client.connect())
    yield* opening("LISTEN", () => client.query(`LISTEN ${pg.escapeIdentifier(topic)}`))
    yield* options.subscribed
    yield* Effect.tryPromise(() => client.query("select 1")).pipe(
      Effect.timeoutFail({ duration: timeout, onTimeout: () => "no answer to the heartbeat" }),
      Effect.repeat(Schedule.spaced(every)),
      Effect.catchAll((cause) => Deferred.fail(lost, failed(true)(cause))),
      Effect.forkScoped
    )
    return yield* Deferred.await(lost)
  }))

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
        const subscribed = Effect.zipRight(subscriber.onSubscribed, Deferred.succeed(firstConnection, undefined))
        yield* session({ url: backend.url, topic, deliver, subscribed }).pipe(
          Effect.tapError((error) =>
            error.subscribed
              ? Effect.void
              : Effect.logWarning("Cannot LISTEN; trying again").pipe(Effect.annotateLogs("reason", error.message))
          ),
          // Opening is retried with a back-off; a loss ends the round, and the next round
          // starts the back-off afresh.
          Effect.retry({ schedule: reconnecting, while: (error) => !error.subscribed }),
          Effect.catchAll((error) =>
            Effect.logWarning("Lost the LISTEN connection; opening it again").pipe(
              Effect.annotateLogs("reason", error.message),
              Effect.zipRight(Effect.sleep(pauseAfterLoss))
            )
          ),
          Effect.forever,
          Effect.forkScoped
        )
        yield* Deferred.await(firstConnection).pipe(Effect.timeout(firstConnectionWithin), Effect.ignore)
      })

    return { listen } as const
  })
}) {}
