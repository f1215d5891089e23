/**
 * What a channel's delivery says, read into one shape: a message that opens a case or
 * follows up on one, a delivery that needs nothing, or Slack's URL challenge. Each channel
 * type has its payload Schema; a body that does not fit answers 400 naming the problem.
 */
import * as ReplyMarker from "./ReplyMarker.js"
import type { ChannelType } from "@nestfleet/domain/Channels"
import * as DecodeIssues from "@nestfleet/domain/DecodeIssues"
import { depthOf, holdsNul, jsonDocument, mayHoldUnstorableText, replaceLoneSurrogates, truncate } from "@nestfleet/domain/Text"
import { Either, Schema } from "effect"
import { createHash } from "node:crypto"
import type { Headers } from "./WebhookSignatures.js"

export type InboundCustomer = {
  readonly email?: string | undefined
  readonly name?: string | undefined
  readonly handle?: string | undefined
}

export interface InboundMessage {
  readonly _tag: "Message"
  /** Keys that identify this delivery on its channel; any one seen before makes it a redelivery. */
  readonly deliveryKeys: ReadonlyArray<string>
  /** The conversation: a case on this channel with this key is the one this message belongs to. */
  readonly threadKey: string
  /** Earlier messages (their external ids) this one answers: email In-Reply-To and References. */
  readonly repliesTo: ReadonlyArray<string>
  /** The channel's own id for the message. */
  readonly externalId: string
  readonly subject: string
  readonly body: string
  readonly html?: string | undefined
  readonly customer: InboundCustomer
  readonly metadata: Readonly<Record<string, unknown>>
}

/** The channel says a conversation is open again (a GitHub issue reopened). */
export interface InboundReopen {
  readonly _tag: "Reopen"
  readonly deliveryKeys: ReadonlyArray<string>
  readonly threadKey: string
  readonly by: string
}

export type Inbound =
  | InboundMessage
  | InboundReopen
  | { readonly _tag: "Ignored"; readonly reason: string }
  | { readonly _tag: "Challenge"; readonly challenge: string }

const maxSubject = 300

const Text = (max: number) => Schema.String.pipe(Schema.maxLength(max))
const NonEmpty = (max: number) => Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(max))

/** A subject from the first line of a message that has none of its own. */
const subjectOf = (text: string) => {
  const line = text.trim().split("\n", 1)[0]!.trim()
  return (line.length > 120 ? `${truncate(line, 117)}...` : line) || "(no subject)"
}

/** Names each field that does not fit and the rule it broke, never the value sent (see `DecodeIssues`). */
const decode = <A, I>(schema: Schema.Schema<A, I>, what: string, json: unknown): Either.Either<A, string> =>
  Schema.decodeUnknownEither(schema, { errors: "all" })(json).pipe(
    Either.mapLeft((error) => `Not a ${what}: ${DecodeIssues.describe(DecodeIssues.fromParseError(error))}`)
  )

// ---- generic webhook ----

/** How a generic webhook's conversation names its case's thread. */
export const threadPrefix = "thread:"

const GenericPayload = Schema.Struct({
  externalId: NonEmpty(200),
  /**
   * The conversation (a chat widget's session, a contact form's ticket): messages with the same
   * threadId on a channel are one case, and replies carry it back. Absent, each message is its own.
   */
  threadId: Schema.optional(NonEmpty(200)),
  subject: NonEmpty(maxSubject),
  body: NonEmpty(100_000),
  customer: Schema.Struct({
    email: Schema.optional(Text(254)),
    name: Schema.optional(Text(200)),
    handle: Schema.optional(Text(200))
  }),
  metadata: Schema.optional(jsonDocument({ name: "metadata", maxDepth: 10, maxLength: 20_000 }))
})

const generic = (payload: typeof GenericPayload.Type, headers: Headers): Inbound => ({
  _tag: "Message",
  deliveryKeys: [`external:${payload.externalId}`, `webhook-id:${headers["webhook-id"]}`],
  threadKey: payload.threadId === undefined ? `external:${payload.externalId}` : `${threadPrefix}${payload.threadId}`,
  repliesTo: [],
  externalId: payload.externalId,
  subject: payload.subject,
  body: payload.body,
  customer: payload.customer,
  metadata: payload.metadata ?? {}
})

// ---- inbound email ----

const MessageIdList = Schema.Union(Schema.String, Schema.Array(Schema.String))

const EmailPayload = Schema.Struct({
  messageId: NonEmpty(500),
  inReplyTo: Schema.optional(Schema.NullOr(Text(998))),
  references: Schema.optional(Schema.NullOr(MessageIdList)),
  from: Schema.Struct({ email: NonEmpty(254), name: Schema.optional(Schema.NullOr(Text(200))) }),
  to: Schema.Union(Schema.String, Schema.Array(Schema.String)),
  subject: Text(998),
  text: Text(200_000),
  html: Schema.optional(Schema.NullOr(Text(500_000)))
})

/** `<a@x> <b@y>` (or `<a@x><b@y>`: RFC 5322 needs no space between) or a list of them, without brackets. */
const messageIds = (value: string | ReadonlyArray<string> | null | undefined): Array<string> =>
  (typeof value === "string" ? [value] : value ?? [])
    .flatMap((ids) => ids.match(/<[^<>]*>|[^\s,<>]+/g) ?? [])
    .map((id) => id.trim().replace(/^<|>$/g, ""))
    .filter((id) => id.length > 0)

const email = (payload: typeof EmailPayload.Type, headers: Headers): Inbound => {
  const messageId = messageIds(payload.messageId)[0] ?? payload.messageId
  const references = messageIds(payload.references)
  const parent = messageIds(payload.inReplyTo)
  // The direct parent first, then the thread from the newest ancestor back.
  const repliesTo = [...new Set([...parent, ...references.toReversed()])]
  // The thread is named by its first message (References lists the thread from its root), so
  // a reply that arrives before — or at the same time as — the message it answers still
  // finds, or opens, the one case of the thread.
  const root = references[0] ?? parent[0] ?? messageId
  return {
    _tag: "Message",
    deliveryKeys: [`message-id:${messageId}`, `webhook-id:${headers["webhook-id"]}`],
    threadKey: `message-id:${root}`,
    repliesTo: repliesTo.map((id) => `message-id:${id}`),
    externalId: `message-id:${messageId}`,
    subject: payload.subject.trim() === "" ? subjectOf(payload.text) : truncate(payload.subject.trim(), maxSubject),
    body: payload.text,
    html: payload.html ?? undefined,
    customer: { email: payload.from.email, name: payload.from.name ?? undefined },
    metadata: { to: payload.to }
  }
}

// ---- GitHub issues ----

const GitHubUser = Schema.Struct({ login: Schema.String, type: Schema.optional(Schema.String) })
const GitHubIssue = Schema.Struct({
  id: Schema.Number,
  number: Schema.Number,
  title: Schema.String,
  body: Schema.NullOr(Schema.String),
  html_url: Schema.optional(Schema.String),
  /** Moved on by every change of the issue, a reopening among them: it tells one reopening from the next. */
  updated_at: Schema.optional(Schema.String),
  user: GitHubUser,
  /** Present when the "issue" is a pull request: its conversation is code review, not support. */
  pull_request: Schema.optional(Schema.Unknown)
})
const GitHubRepository = Schema.Struct({ full_name: Schema.String })

const GitHubIssuesEvent = Schema.Struct({
  action: Schema.String,
  issue: GitHubIssue,
  repository: GitHubRepository,
  /** Who did it: for a reopening, the person who reopened the issue (its author is `issue.user`). */
  sender: Schema.optional(GitHubUser)
})

const GitHubIssueCommentEvent = Schema.Struct({
  action: Schema.String,
  issue: GitHubIssue,
  comment: Schema.Struct({
    id: Schema.Number,
    body: Schema.String,
    html_url: Schema.optional(Schema.String),
    user: GitHubUser
  }),
  repository: GitHubRepository
})

const issueThread = (repository: string, issue: { readonly number: number }) => `github-issue:${repository}#${issue.number}`

/**
 * The key of one reopening of an issue, whatever delivery carries it. GitHub signs the body
 * only, so the same signed body may come again under a new X-GitHub-Delivery (a replay): it
 * is that reopening seen before. A later reopening has a later `updated_at`; without one,
 * the body itself (as read) names the event.
 */
const reopeningKey = (payload: typeof GitHubIssuesEvent.Type, json: unknown) =>
  payload.issue.updated_at !== undefined
    ? `github-reopen:${payload.issue.id}@${payload.issue.updated_at}`
    : `github-reopen:${payload.issue.id}#${createHash("sha256").update(JSON.stringify(json)).digest("base64url")}`

// ---- Slack Events API ----

const SlackEnvelope = Schema.Struct({ type: Schema.String })

const SlackUrlVerification = Schema.Struct({
  type: Schema.Literal("url_verification"),
  challenge: Text(1024)
})

const SlackEventCallback = Schema.Struct({
  type: Schema.Literal("event_callback"),
  event_id: Text(256),
  team_id: Schema.optional(Text(256)),
  // The event's type says which Schema reads the rest of it.
  event: Schema.Struct({ type: Schema.String }, Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

const SlackFile = Schema.Struct({
  id: Schema.optional(Text(256)),
  name: Schema.optional(Schema.NullOr(Text(1024))),
  title: Schema.optional(Schema.NullOr(Text(1024))),
  permalink: Schema.optional(Text(2048))
})

/** A `message` event: Slack gives every one its channel and timestamp. */
const SlackMessageEvent = Schema.Struct({
  type: Schema.Literal("message"),
  subtype: Schema.optional(Schema.String),
  bot_id: Schema.optional(Schema.NullOr(Schema.String)),
  user: Schema.optional(Text(256)),
  text: Schema.optional(Schema.String),
  ts: Text(64),
  thread_ts: Schema.optional(Text(64)),
  channel: Text(256),
  files: Schema.optional(Schema.Array(SlackFile))
})

/**
 * Subtypes that are still a person writing: a message with files, and a thread reply also
 * sent to the channel. The others are edits, deletions, joins and bots (our replies among them).
 */
const customerSubtypes: ReadonlySet<string | undefined> = new Set([undefined, "file_share", "thread_broadcast"])

const fileLine = (file: typeof SlackFile.Type) =>
  [file.title || file.name || file.id || "a file", file.permalink].filter(Boolean).join(" ")

const slackMessage = (
  payload: typeof SlackEventCallback.Type,
  event: typeof SlackMessageEvent.Type
): Inbound => {
  const files = event.files ?? []
  const text = event.text?.trim() ?? ""
  if (text === "" && files.length === 0) return { _tag: "Ignored", reason: "Slack message with neither text nor files" }
  const body = files.length === 0 ? text : [text, `Shared files:\n${files.map((file) => `- ${fileLine(file)}`).join("\n")}`]
    .filter(Boolean).join("\n\n")
  const thread = event.thread_ts ?? event.ts
  return {
    _tag: "Message",
    deliveryKeys: [`slack-event:${payload.event_id}`],
    threadKey: `slack:${event.channel}:${thread}`,
    repliesTo: [],
    externalId: `slack:${event.channel}:${event.ts}`,
    subject: subjectOf(text || body),
    body,
    customer: { handle: event.user },
    metadata: {
      slackChannel: event.channel,
      ts: event.ts,
      threadTs: thread,
      teamId: payload.team_id,
      ...(files.length > 0 ? { files: files.map((file) => ({ name: file.name ?? file.title, url: file.permalink })) } : {})
    }
  }
}

/**
 * An event callback: what is not a person writing is ignored whatever its shape; only a
 * person's message is read strictly.
 */
const slackEvent = (payload: typeof SlackEventCallback.Type): Either.Either<Inbound, string> => {
  const { bot_id, subtype, type } = payload.event
  if (type !== "message") return Either.right({ _tag: "Ignored", reason: `Slack ${type} events need nothing` })
  if (!customerSubtypes.has(subtype as string | undefined) || bot_id) {
    const what = typeof subtype === "string" ? subtype : "from a bot"
    return Either.right({ _tag: "Ignored", reason: `Slack message ${what} needs nothing` })
  }
  return Either.map(decode(SlackMessageEvent, "Slack message event", payload.event), (event) => slackMessage(payload, event))
}

/** Slack sends several payload types; those we act on must be well formed, the others need nothing. */
const slack = (json: unknown): Either.Either<Inbound, string> =>
  Either.flatMap(decode(SlackEnvelope, "Slack payload", json), ({ type }): Either.Either<Inbound, string> => {
    switch (type) {
      case "url_verification":
        return Either.map(decode(SlackUrlVerification, "Slack url_verification", json), ({ challenge }) => ({
          _tag: "Challenge",
          challenge
        }))
      case "event_callback":
        return Either.flatMap(decode(SlackEventCallback, "Slack event_callback", json), slackEvent)
      default:
        return Either.right({ _tag: "Ignored", reason: `Slack ${type} needs nothing` })
    }
  })

// ---- reading a delivery ----

const github = (headers: Headers, json: unknown): Either.Either<Inbound, string> => {
  const event = headers["x-github-event"]
  const delivery = headers["x-github-delivery"]
  if (!event) return Either.left("Missing the X-GitHub-Event header")
  if (!delivery) return Either.left("Missing the X-GitHub-Delivery header")
  const deliveryKeys = [`github-delivery:${delivery}`]
  switch (event) {
    case "ping":
      return Either.right({ _tag: "Ignored", reason: "ping" })
    case "issues":
      return Either.map(decode(GitHubIssuesEvent, "GitHub issues event", json), (payload): Inbound =>
        payload.action !== "opened"
          ? payload.action === "reopened" && payload.issue.pull_request === undefined
            ? {
              _tag: "Reopen",
              deliveryKeys: [...deliveryKeys, reopeningKey(payload, json)],
              threadKey: issueThread(payload.repository.full_name, payload.issue),
              by: (payload.sender ?? payload.issue.user).login
            }
            : { _tag: "Ignored", reason: `issues.${payload.action} needs nothing` }
          : payload.issue.pull_request !== undefined
          ? { _tag: "Ignored", reason: "pull requests need nothing" }
          : {
            _tag: "Message",
            deliveryKeys: [...deliveryKeys, `github-issue:${payload.issue.id}`],
            threadKey: issueThread(payload.repository.full_name, payload.issue),
            repliesTo: [],
            externalId: `github-issue:${payload.issue.id}`,
            subject: truncate(payload.issue.title, maxSubject) || "(no title)",
            body: payload.issue.body ?? "",
            customer: { handle: payload.issue.user.login },
            metadata: { repository: payload.repository.full_name, issue: payload.issue.number, url: payload.issue.html_url }
          })
    case "issue_comment":
      return Either.map(decode(GitHubIssueCommentEvent, "GitHub issue_comment event", json), (payload): Inbound =>
        payload.action !== "created"
          ? { _tag: "Ignored", reason: `issue_comment.${payload.action} needs nothing` }
          : payload.comment.user.type === "Bot"
          ? { _tag: "Ignored", reason: "comments by bots need nothing" }
          : ReplyMarker.isReply(payload.comment.body)
          ? { _tag: "Ignored", reason: "NestFleet's own reply needs nothing" }
          : payload.issue.pull_request !== undefined
          ? { _tag: "Ignored", reason: "pull request conversations need nothing" }
          : {
            _tag: "Message",
            deliveryKeys: [...deliveryKeys, `github-comment:${payload.comment.id}`],
            threadKey: issueThread(payload.repository.full_name, payload.issue),
            repliesTo: [],
            externalId: `github-comment:${payload.comment.id}`,
            subject: truncate(payload.issue.title, maxSubject) || "(no title)",
            body: payload.comment.body,
            customer: { handle: payload.comment.user.login },
            metadata: { repository: payload.repository.full_name, issue: payload.issue.number, url: payload.comment.html_url }
          })
    default:
      return Either.right({ _tag: "Ignored", reason: `GitHub ${event} events need nothing` })
  }
}

const maxWebhookIdLength = 256

/**
 * Deeper than any channel sends. A parsed body may nest as deep as its text allows, but
 * writing it back as JSON (a log line, a key derived from it) would overflow the stack.
 */
const maxBodyDepth = 64

/** Refuses bytes that are not UTF-8 rather than reading them as replacement characters. */
const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * The body as JSON PostgreSQL can store, or what is wrong with it. A NUL character is refused
 * wherever it is (no column holds one); a lone surrogate becomes U+FFFD, in keys too (see
 * `Text`). Both can only arrive as `\u` escapes in text decoded as strict UTF-8, so a body
 * without such an escape — nearly every delivery — is not walked for them.
 */
const parseBody = (body: Uint8Array): Either.Either<unknown, string> => {
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    return Either.left("The body is not UTF-8 text, as JSON must be")
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Either.left(`The body is not JSON: ${DecodeIssues.jsonSyntaxProblem(error)}`)
  }
  if (depthOf(json, maxBodyDepth) > maxBodyDepth) return Either.left(`The body nests deeper than ${maxBodyDepth} levels`)
  if (!mayHoldUnstorableText(text)) return Either.right(json)
  if (holdsNul(json)) return Either.left("The body holds a NUL character (\\u0000), which cannot be stored")
  return Either.right(replaceLoneSurrogates(json))
}

/** Reads a verified delivery's JSON body; Left with what is wrong with it. */
export const read = (type: ChannelType, headers: Headers, body: Uint8Array): Either.Either<Inbound, string> => {
  if ((headers["webhook-id"]?.length ?? 0) > maxWebhookIdLength) {
    return Either.left(`The webhook-id header is over ${maxWebhookIdLength} characters`)
  }
  if ((headers["x-github-delivery"]?.length ?? 0) > maxWebhookIdLength) {
    return Either.left(`The X-GitHub-Delivery header is over ${maxWebhookIdLength} characters`)
  }
  const parsed = parseBody(body)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const json = parsed.right
  switch (type) {
    case "webhook":
      return Either.map(decode(GenericPayload, "webhook message", json), (payload) => generic(payload, headers))
    case "email":
      return Either.map(decode(EmailPayload, "inbound email", json), (payload) => email(payload, headers))
    case "github":
      return github(headers, json)
    case "slack":
      return slack(json)
  }
}
