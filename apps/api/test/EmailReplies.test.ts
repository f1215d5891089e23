/**
 * Replies through an email channel, on the real API, database, job queue and worker, to a real
 * SMTP server started by the test (the `smtp-server` package) with login required: the reply
 * is threaded under the customer's message with a Message-ID that names the draft version, a
 * temporary 4xx is retried with the same message, a refused login stops, and the customer's
 * answer to the reply joins the case.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { AddressInfo } from "node:net"
import { SMTPServer } from "smtp-server"
import * as AuthFlows from "./AuthFlows.js"
import * as DraftFlows from "./DraftFlows.js"
import { deliver } from "./IntakeFlows.js"
import { knowledgeBase, query } from "./KnowledgeFlows.js"
import * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

const serverLayer = TestServer.layer(undefined, { withWorker: true })

const password = "smtp-password-0123456789"

interface Mail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly user: string | undefined
  readonly raw: string
  readonly accepted: boolean
}

/** The value of a header of a raw message (unfolded). */
const header = (raw: string, name: string) =>
  new RegExp(`^${name}: ?(.*(?:\\r?\\n[ \\t].*)*)`, "im").exec(raw.split(/\r?\n\r?\n/)[0]!)?.[1]?.replace(/\r?\n[ \t]+/g, " ").trim()

/** A real SMTP server on a free port, login required; `refuse(n)` answers the n-th message's data with a 451. */
const smtpServer = (refuse: (n: number) => boolean = () => false) =>
  Effect.acquireRelease(
    Effect.async<{ readonly port: number; readonly mails: Array<Mail>; readonly server: SMTPServer }>((resume) => {
      const mails: Array<Mail> = []
      const server = new SMTPServer({
        authOptional: false,
        allowInsecureAuth: true,
        disabledCommands: ["STARTTLS"],
        logger: false,
        onAuth(auth, _session, callback) {
          if (auth.username === "nestfleet" && auth.password === password) return callback(null, { user: auth.username })
          callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }))
        },
        onData(stream, session, callback) {
          const chunks: Array<Buffer> = []
          stream.on("data", (chunk: Buffer) => chunks.push(chunk))
          stream.on("end", () => {
            const accepted = !refuse(mails.length + 1)
            mails.push({
              from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
              to: session.envelope.rcptTo.map((to) => to.address),
              user: session.user as string | undefined,
              raw: Buffer.concat(chunks).toString("utf8"),
              accepted
            })
            callback(accepted ? null : Object.assign(new Error("Greylisted, try again later"), { responseCode: 451 }))
          })
        }
      })
      server.listen(0, "127.0.0.1", () => {
        resume(Effect.succeed({ port: (server.server.address() as AddressInfo).port, mails, server }))
      })
    }),
    ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )

/** A product with articles and an email channel replying through the SMTP server on `port`. */
const emailChannel = (port: number, secret: string, requireTls = false, settings: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const kb = yield* knowledgeBase({ matchMinSimilarity: 0.01, ...settings }, "email")
    const changed = yield* AuthFlows.call(kb.token, `/api/v1/channels/${kb.channelId}`, {
      method: "PATCH",
      body: {
        // This test server offers no STARTTLS; a real one should (the login then requires it).
        config: { smtp: { host: "127.0.0.1", port, username: "nestfleet", requireTls, from: "Acme Support <support@acme.test>" } },
        replySecret: secret
      }
    })
    expect(changed.status).toBe(200)
    return kb
  })

const mail = (secret: string, fields: Record<string, unknown>) =>
  Signing.standardWebhooks(secret, {
    from: { email: "ada@customer.example", name: "Ada" },
    to: "support@acme.test",
    subject: "CSV export fails",
    text: "Exporting my report fails with EXPORT_TOO_LARGE. What can I do?",
    ...fields
  })

/** Approves the case's first draft; answers it and how its reply ended. */
const approveAndSettle = (caseId: string) =>
  Effect.map(DraftFlows.approveAndSettle(caseId), ({ draft, reply }) => ({
    draft,
    delivery: { state: reply.delivery!.state, error: reply.delivery!.error }
  }))

layer(serverLayer, { excludeTestServices: true, timeout: 180_000 })("replies by email", (it) => {
  it.scoped("threaded under the customer's message, retried after a 451 with the same Message-ID, and answered into the case", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer((n) => n === 1)
      const kb = yield* emailChannel(smtp.port, password)
      const opened = yield* deliver(kb.channelId, mail(kb.secret, { messageId: "<q1@customer.example>" }))
      expect(opened.status).toBe(202)
      const caseId = (opened.body as { caseId: string }).caseId
      const { delivery, draft } = yield* approveAndSettle(caseId)
      expect(delivery).toEqual({ state: "sent", error: null })

      // Two attempts (the first greylisted), both the same message; the second accepted.
      expect(smtp.mails.map((sent) => sent.accepted)).toEqual([false, true])
      const messageId = `<nestfleet-reply-${draft.id}-v1@acme.test>`
      for (const sent of smtp.mails) {
        expect(sent).toMatchObject({ from: "support@acme.test", to: ["ada@customer.example"], user: "nestfleet" })
        expect(header(sent.raw, "Message-ID")).toBe(messageId)
        expect(header(sent.raw, "In-Reply-To")).toBe("<q1@customer.example>")
        expect(header(sent.raw, "References")).toBe("<q1@customer.example>")
        expect(header(sent.raw, "Subject")).toBe("Re: CSV export fails")
        expect(header(sent.raw, "From")).toBe("Acme Support <support@acme.test>")
      }
      expect(smtp.mails[1]!.raw).toContain("EXPORT_TOO_LARGE")

      // The customer answers the reply: it joins the case by the reply's Message-ID.
      const answer = yield* deliver(kb.channelId, mail(kb.secret, {
        messageId: "<q2@customer.example>",
        inReplyTo: messageId,
        subject: "Re: CSV export fails",
        text: "Thanks, filtering by date worked."
      }))
      expect((answer.body as { caseId: string }).caseId).toBe(caseId)
    }))

  it.scoped("in auto mode the reply is mailed without an agent, once, threaded under the customer's message", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer()
      const kb = yield* emailChannel(smtp.port, password, false, DraftFlows.autoSend)
      const opened = yield* deliver(kb.channelId, mail(kb.secret, { messageId: "<auto1@customer.example>" }))
      const caseId = (opened.body as { caseId: string }).caseId
      const detail = yield* DraftFlows.replySettled(kb.token, caseId)
      const draft = detail.drafts[0]!
      expect(draft).toMatchObject({ version: 1, status: "sent", decidedBy: null })
      expect(smtp.mails).toHaveLength(1)
      expect(header(smtp.mails[0]!.raw, "Message-ID")).toBe(`<nestfleet-reply-${draft.id}-v1@acme.test>`)
      expect(header(smtp.mails[0]!.raw, "In-Reply-To")).toBe("<auto1@customer.example>")
      expect(detail.case.status).toBe("replied")
    }))

  it.scoped("a refused login (535) fails the reply at once, and the case goes to a person; a login needs TLS unless told otherwise", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer()
      const kb = yield* emailChannel(smtp.port, "not-the-password")
      const opened = yield* deliver(kb.channelId, mail(kb.secret, { messageId: "<q3@customer.example>" }))
      const caseId = (opened.body as { caseId: string }).caseId
      const { delivery } = yield* approveAndSettle(caseId)
      expect(delivery.state).toBe("failed")
      expect(delivery.error).toMatch(/^The SMTP server answered 535/)
      expect(smtp.mails).toEqual([])
      const [row] = yield* query<{ status: string }>("select status from cases where id = $1", [caseId])
      expect(row!.status).toBe("needs_attention")

      // Without STARTTLS (this server offers none) the password is not sent at all, unless the
      // channel says requireTls: false: the reply fails for good.
      const strict = yield* emailChannel(smtp.port, password, true)
      const strictCase = yield* deliver(strict.channelId, mail(strict.secret, { messageId: "<q4@customer.example>" }))
      const refusedPlain = yield* approveAndSettle((strictCase.body as { caseId: string }).caseId)
      expect(refusedPlain.delivery.state).toBe("failed")
      expect(smtp.mails).toEqual([])
    }))
})
