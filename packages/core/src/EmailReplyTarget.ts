/**
 * Replies on an email channel: a message through the channel's SMTP server (nodemailer), to
 * the customer's address, threaded under their last message (`In-Reply-To`, `References`
 * from the thread's first message). `config.smtp` says where and as whom:
 * `{host, port, secure?, username?, requireTls?, from}` (`secure`: TLS from the start, as on
 * port 465; otherwise STARTTLS, which a login requires unless `requireTls: false`, so the
 * password never crosses the network in the clear); the reply secret is the SMTP password.
 *
 * The Message-ID names the draft version, so the customer's answer to the reply threads into
 * the case, and a retry is the same message: a mail client showing a thread by Message-ID shows
 * it once. A 4xx from the server (greylisting, a full queue) or a connection failure is retried;
 * a 5xx (a refused address, a refused login) is not.
 */
import { Duration, Effect, Redacted, Schema } from "effect"
import { createTransport } from "nodemailer"
import { DeliveryFailed, type Outgoing, type Receipt, requireReplySecret } from "./ReplyTarget.js"

/** Connecting, greeting, logging in and sending together; past it the attempt is retried. */
export const sendTimeout = Duration.seconds(30)

const SmtpConfig = Schema.Struct({
  smtp: Schema.Struct({
    host: Schema.String.pipe(Schema.minLength(1)),
    port: Schema.Int.pipe(Schema.between(1, 65535)),
    secure: Schema.optional(Schema.Boolean),
    username: Schema.optional(Schema.String),
    /** With a login and without `secure`: refuse to log in unless STARTTLS upgrades the connection (default true). */
    requireTls: Schema.optional(Schema.Boolean),
    /** The sender: `support@example.com` or `Acme Support <support@example.com>`. */
    from: Schema.String.pipe(Schema.pattern(/@/))
  })
})

/** The id inside `message-id:<id>` (how a case names an email's Message-ID), in angle brackets. */
const bracketed = (externalId: string) => `<${externalId.replace(/^message-id:/, "")}>`

/** The Message-ID of a version's reply: stable across retries, at the sender's domain. */
export const messageIdOf = (key: string, from: string) => {
  const domain = /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? "nestfleet.invalid"
  return `<${key}@${domain}>`
}

/** Nodemailer's failures that no retry heals: a login, an address or a certificate refused. */
const lastingCodes: ReadonlySet<string> = new Set(["EAUTH", "EENVELOPE", "ETLS"])

/** SMTP's answer: a 4xx may heal, a 5xx will not; no answer at all (a connection failure) may heal. */
const failureOf = (error: unknown) => {
  const field = (name: string): unknown => typeof error === "object" && error !== null && name in error ? (error as Record<string, unknown>)[name] : undefined
  const code = Number(field("responseCode") ?? Number.NaN)
  const message = error instanceof Error ? error.message : String(error)
  return new DeliveryFailed({
    reason: Number.isFinite(code) ? `The SMTP server answered ${code}: ${message}` : `Sending by SMTP failed (${message})`,
    // The server's own answer decides when there is one; without it, what nodemailer says of the failure.
    permanent: Number.isFinite(code) ? code >= 500 : field("permanent") === true || lastingCodes.has(String(field("code")))
  })
}

export const send = (outgoing: Outgoing): Effect.Effect<Receipt, DeliveryFailed> =>
  Effect.gen(function*() {
    const { smtp } = yield* Schema.decodeUnknown(SmtpConfig)(outgoing.channel.config).pipe(
      Effect.mapError(() =>
        new DeliveryFailed({ reason: "The email channel has no config.smtp {host, port, from} to send replies with", permanent: true })
      )
    )
    const to = outgoing.case.customer.email
    if (typeof to !== "string" || to === "") {
      return yield* new DeliveryFailed({ reason: "The case has no customer email address to reply to", permanent: true })
    }
    const password = smtp.username === undefined ? null : yield* requireReplySecret(outgoing, "SMTP password")
    const secure = smtp.secure ?? false
    const transport = createTransport({
      host: smtp.host,
      port: smtp.port,
      secure,
      requireTLS: password !== null && !secure && smtp.requireTls !== false,
      ...(smtp.username === undefined || password === null ? {} : { auth: { user: smtp.username, pass: Redacted.value(password) } }),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 10_000
    })
    const messageId = messageIdOf(outgoing.key, smtp.from)
    const parent = outgoing.answers?.externalId?.startsWith("message-id:") ? bracketed(outgoing.answers.externalId) : null
    const root = outgoing.case.threadKey.startsWith("message-id:") ? bracketed(outgoing.case.threadKey) : null
    const subject = /^re:/i.test(outgoing.case.subject) ? outgoing.case.subject : `Re: ${outgoing.case.subject}`
    yield* Effect.tryPromise({
      try: () =>
        transport.sendMail({
          from: smtp.from,
          to,
          subject,
          text: outgoing.reply.body,
          messageId,
          ...(parent === null ? {} : { inReplyTo: parent }),
          references: [...new Set([root, parent].filter((id) => id !== null))]
        }),
      catch: failureOf
    }).pipe(
      Effect.timeoutFail({
        duration: sendTimeout,
        onTimeout: () => new DeliveryFailed({ reason: "The SMTP server did not answer in time", permanent: false })
      }),
      Effect.ensuring(Effect.sync(() => transport.close()))
    )
    return { externalId: `message-id:${messageId.slice(1, -1)}`, echoKeys: [] }
  })
