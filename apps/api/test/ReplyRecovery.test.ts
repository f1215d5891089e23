/**
 * Deliveries that do not end normally, on the real API, database, job queue and worker:
 *
 * - a worker process killed (SIGKILL) after the receiver took the reply and before it was
 *   recorded: its job's heartbeat stops, the job is retried by another worker process, the
 *   receiver gets the same `webhook-id` again and shows the reply once, and it is recorded as
 *   sent once;
 * - a delivery whose last attempt never finishes (here it outlives its expiry and is stopped):
 *   the job fails for good, its dead letter job fails the reply, and the case goes to a person.
 */
import { expect, layer } from "@effect/vitest"
import * as Database from "@nestfleet/db/Database"
import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"
import { JobCatalogue, all } from "@nestfleet/jobs/Catalogue"
import { DeliverReplyJob } from "@nestfleet/jobs/PipelineJobs"
import { Deferred, Effect, Layer, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Path from "node:path"
import { agentToken, draftedCase, post, replySettled, webhookReceiver } from "./DraftFlows.js"
import { query } from "./KnowledgeFlows.js"
import * as TestServer from "./TestServer.js"

/** Supervision and polling every second, so a lost attempt is found in seconds. */
const quickQueue = { JOBS_SUPERVISE_INTERVAL_SECONDS: "1", JOBS_POLLING_INTERVAL_SECONDS: "1" }

const workerMain = Path.join(import.meta.dirname, "../../worker/src/main.ts")

interface WorkerProcess {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<NodeJS.Signals | number | null>
}

/** `tsx apps/worker/src/main.ts` on `url`, as an operator runs a worker beside the API; killed with the scope. */
const workerProcess = (url: Redacted.Redacted) =>
  Effect.acquireRelease(
    Effect.sync((): WorkerProcess => {
      const child = spawn(process.execPath, ["--import", "tsx", workerMain], {
        env: {
          PATH: process.env.PATH!,
          LOG_FORMAT: "json",
          DATABASE_URL: Redacted.value(url),
          ENCRYPTION_KEY: TestServer.encryptionKey,
          ...quickQueue
        },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout!.on("data", (chunk) => (output += chunk))
      child.stderr!.on("data", (chunk) => (output += chunk))
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
        child.on("exit", (code, signal) => resolve(signal ?? code))
      )
      return { child, output: () => output, exited }
    }),
    ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
  )

/** The API alone (it sends jobs, works none); workers run as processes of their own. */
const apiOnly = TestServer.layer(undefined, { config: quickQueue })

// Two processes on one database need a server: the embedded database belongs to one process.
layer(apiOnly, { excludeTestServices: true, timeout: 240_000 })("a worker killed mid-delivery", (it) => {
  it.scoped.skipIf(TestDatabase.mode === "embedded")(
    "a worker killed between sending and recording: another worker retries it, the receiver shows it once, it is recorded once (needs a server: TEST_DATABASE_URL)",
    () =>
      Effect.gen(function*() {
        const database = yield* Database.Database
        if (database.backend._tag !== "Server") throw new Error("expected a server database")
        const url = database.backend.url
        const first = yield* workerProcess(url)

        let channelSecret = ""
        // The receiver takes the reply; the worker that sent it is killed before it hears back.
        const target = yield* webhookReceiver(() => channelSecret, async (_, n) => {
          if (n > 1) return { status: 200 }
          first.child.kill("SIGKILL")
          await first.exited
          return "drop"
        })
        const { caseId, draft, secret } = yield* draftedCase("killed-worker", {}, { replyUrl: target.url })
        channelSecret = secret
        const agent = yield* agentToken
        expect((yield* post(agent, `/api/v1/drafts/${draft.id}/approve`, { version: 1 })).status).toBe(200)

        expect(yield* Effect.promise(() => first.exited)).toBe("SIGKILL")
        expect(target.requests).toHaveLength(1)
        const [pending] = yield* query<{ state: string; error: string | null }>(
          "select delivery_state as state, delivery_error as error from messages where case_id = $1 and kind = 'outbound'",
          [caseId]
        )
        expect(pending).toEqual({ state: "sending", error: null })

        yield* workerProcess(url)
        const detail = yield* replySettled(agent, caseId, "90 seconds")
        expect(detail.messages.find((message) => message.kind === "outbound")!.delivery).toMatchObject({ state: "sent" })

        expect(target.requests).toHaveLength(2)
        expect(target.verified()).toHaveLength(2)
        expect([...target.shown()]).toEqual([`nestfleet-reply-${draft.id}-v1`])
        const sent = detail.timeline.filter((event) => event.kind === "reply_sent")
        expect(sent).toHaveLength(1)
        expect(sent[0]!.data).toMatchObject({ draftId: draft.id, version: 1, attempt: 2 })
        expect(detail.messages.filter((message) => message.kind === "outbound")).toHaveLength(1)
        expect(detail.drafts[0]).toMatchObject({ version: 1, status: "sent" })
        expect(detail.case.status).toBe("replied")
      }),
    120_000
  )
})

/** deliver_reply with one attempt that expires after 2 seconds, so its last attempt outlives it. */
const expiringDelivery = { ...DeliverReplyJob, retry: { ...DeliverReplyJob.retry, retryLimit: 0, expireInSeconds: 2 } }
const withExpiringDelivery = TestServer.layer(undefined, { withWorker: true, config: quickQueue }).pipe(
  Layer.provide(Layer.succeed(JobCatalogue, all.map((job) => job.name === DeliverReplyJob.name ? expiringDelivery : job)))
)

layer(withExpiringDelivery, { excludeTestServices: true, timeout: 120_000 })("a delivery that never finishes", (it) => {
  it.scoped("its last attempt outlives its expiry: the attempt is stopped, the reply fails with the reason, and the case goes to a person", () =>
    Effect.gen(function*() {
      // The receiver holds the request until the test ends.
      const release = yield* Deferred.make<void>()
      yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined))
      const target = yield* webhookReceiver(() => "", () => Effect.runPromise(Deferred.await(release)).then(() => ({ status: 200 })))
      const { caseId, draft } = yield* draftedCase("never-finishes", {}, { replyUrl: target.url })
      const agent = yield* agentToken
      expect((yield* post(agent, `/api/v1/drafts/${draft.id}/approve`, { version: 1 })).status).toBe(200)

      const detail = yield* replySettled(agent, caseId, "90 seconds")
      expect(target.requests).toHaveLength(1)
      const reply = detail.messages.find((message) => message.kind === "outbound")!
      expect(reply.delivery).toMatchObject({
        state: "failed",
        error: "The delivery never finished: its attempts crashed or were lost"
      })
      expect(detail.case.status).toBe("needs_attention")
      expect(detail.timeline.filter((event) => event.kind === "reply_failed").map((event) => event.data)).toEqual([
        expect.objectContaining({ draftId: draft.id, version: 1, channel: "webhook" })
      ])
      expect(detail.timeline.filter((event) => event.kind === "reply_sent")).toEqual([])
      expect(detail.drafts[0]).toMatchObject({ version: 1, status: "approved" })
    }), 90_000)
})
