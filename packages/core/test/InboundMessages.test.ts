import * as ReplyMarker from "../src/ReplyMarker.js"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type Inbound, type InboundMessage, read } from "../src/InboundMessages.js"
import type { Headers } from "../src/WebhookSignatures.js"

const fixtures = Path.resolve(import.meta.dirname, "../../../test/fixtures/github")
const fixture = (name: string): Uint8Array => Fs.readFileSync(Path.join(fixtures, name))
const fixtureJson = (name: string): any => JSON.parse(Buffer.from(fixture(name)).toString("utf8"))

const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value), "utf8")

const right = (result: Either.Either<Inbound, string>): Inbound => {
  if (Either.isLeft(result)) return expect.fail(`expected a reading, got: ${result.left}`)
  return result.right
}

const message = (result: Either.Either<Inbound, string>): InboundMessage => {
  const inbound = right(result)
  if (inbound._tag !== "Message") return expect.fail(`expected a Message, got ${JSON.stringify(inbound)}`)
  return inbound
}

const ignored = (result: Either.Either<Inbound, string>) => {
  const inbound = right(result)
  expect(inbound._tag, JSON.stringify(inbound)).toBe("Ignored")
  return inbound
}

const left = (result: Either.Either<Inbound, string>): string => {
  if (Either.isRight(result)) return expect.fail(`expected a Left, got ${JSON.stringify(result.right)}`)
  return result.left
}

describe("InboundMessages.read", () => {
  describe("generic webhook", () => {
    const headers: Headers = { "webhook-id": "msg_2Lq7XkXy", "webhook-timestamp": "1741944413", "webhook-signature": "v1,x" }
    const payload = {
      externalId: "ord-7781",
      subject: "Résumé upload fails",
      body: "Uploading a PDF résumé fails with “413 Payload Too Large”.\nTried twice.",
      customer: { email: "ana@example.com", name: "Ana Lima", handle: "ana.l" },
      metadata: { plan: "pro", orderTotal: 129.5, tags: ["upload"] }
    }

    it("reads a message with its delivery keys, thread and customer", () => {
      const read1 = message(read("webhook", headers, json(payload)))
      expect(read1).toEqual({
        _tag: "Message",
        deliveryKeys: ["external:ord-7781", "webhook-id:msg_2Lq7XkXy"],
        threadKey: "external:ord-7781",
        repliesTo: [],
        externalId: "ord-7781",
        subject: "Résumé upload fails",
        body: payload.body,
        customer: payload.customer,
        metadata: payload.metadata
      })
    })

    it("takes an empty customer and no metadata", () => {
      const read1 = message(read("webhook", headers, json({ ...payload, customer: {}, metadata: undefined })))
      expect(read1.customer).toEqual({})
      expect(read1.metadata).toEqual({})
      expect(read1.deliveryKeys).toContain("webhook-id:msg_2Lq7XkXy")
    })

    it("trims the external id, subject and body", () => {
      const read1 = message(read("webhook", headers, json({ ...payload, externalId: "  ord-1 ", subject: " Hi there " })))
      expect(read1.externalId).toBe("ord-1")
      expect(read1.deliveryKeys).toContain("external:ord-1")
      expect(read1.subject).toBe("Hi there")
    })

    it.each(["externalId", "subject", "body", "customer"])("refuses a payload without %s, naming it", (field) => {
      const { [field as keyof typeof payload]: _, ...rest } = payload
      const reason = left(read("webhook", headers, json(rest)))
      expect(reason).toContain("Not a webhook message")
      expect(reason).toContain(field)
    })

    it.each(["externalId", "subject", "body"])("refuses an empty or blank %s, naming it", (field) => {
      for (const blank of ["", "   \n"]) {
        const reason = left(read("webhook", headers, json({ ...payload, [field]: blank })))
        expect(reason).toContain(field)
      }
    })

    it("names every problem at once, and wrong types too", () => {
      const reason = left(read("webhook", headers, json({ externalId: 42, subject: "", customer: { email: 7 } })))
      for (const field of ["externalId", "subject", "body", "email"]) expect(reason).toContain(field)
      expect(left(read("webhook", headers, json([payload])))).toContain("Not a webhook message")
      expect(left(read("webhook", headers, json(null)))).toContain("Not a webhook message")
    })
  })

  describe("inbound email", () => {
    const headers: Headers = { "webhook-id": "msg_email_1" }
    const email = {
      messageId: "<CAF=reply3@mail.example.com>",
      inReplyTo: "<reply2@mail.example.com>",
      references: "<root@nestfleet.example> <reply1@mail.example.com>\r\n <reply2@mail.example.com>",
      from: { email: "sam@example.org", name: "Sam Doe" },
      to: ["support@nestfleet.example"],
      subject: "Re: Export stuck at 99%",
      text: "Still stuck, see the screenshot.\n\n> earlier message",
      html: "<p>Still stuck, see the screenshot.</p>"
    }

    it("reads a reply with brackets stripped, its parent first, its thread newest first, named by its root", () => {
      const read1 = message(read("email", headers, json(email)))
      expect(read1).toEqual({
        _tag: "Message",
        deliveryKeys: ["message-id:CAF=reply3@mail.example.com", "webhook-id:msg_email_1"],
        threadKey: "message-id:root@nestfleet.example",
        repliesTo: ["message-id:reply2@mail.example.com", "message-id:reply1@mail.example.com", "message-id:root@nestfleet.example"],
        externalId: "message-id:CAF=reply3@mail.example.com",
        subject: "Re: Export stuck at 99%",
        body: email.text,
        html: email.html,
        customer: { email: "sam@example.org", name: "Sam Doe" },
        metadata: { to: ["support@nestfleet.example"] }
      })
    })

    it("names a thread without References by the parent, and a first message by itself", () => {
      expect(message(read("email", headers, json({ ...email, references: null }))).threadKey)
        .toBe("message-id:reply2@mail.example.com")
      expect(message(read("email", headers, json({ ...email, references: null, inReplyTo: null }))).threadKey)
        .toBe("message-id:CAF=reply3@mail.example.com")
    })

    it("puts In-Reply-To first even when it is not the last reference, and accepts References as a list", () => {
      const read1 = message(read("email", headers, json({
        ...email,
        inReplyTo: "<side@mail.example.com>",
        references: ["<root@nestfleet.example>", "<reply1@mail.example.com>"]
      })))
      expect(read1.repliesTo).toEqual([
        "message-id:side@mail.example.com",
        "message-id:reply1@mail.example.com",
        "message-id:root@nestfleet.example"
      ])
    })

    it("reads References written without spaces between ids (RFC 5322 allows it)", () => {
      const read1 = message(read("email", headers, json({
        ...email,
        inReplyTo: null,
        references: "<root@nestfleet.example><reply1@mail.example.com>"
      })))
      expect(read1.repliesTo).toEqual(["message-id:reply1@mail.example.com", "message-id:root@nestfleet.example"])
    })

    it("reads a first message: no replies, no name, no html", () => {
      const read1 = message(read("email", headers, json({
        messageId: "first@mail.example.com",
        from: { email: "sam@example.org" },
        to: "support@nestfleet.example",
        subject: "Export stuck",
        text: "The export is stuck at 99%."
      })))
      expect(read1.threadKey).toBe("message-id:first@mail.example.com")
      expect(read1.repliesTo).toEqual([])
      expect(read1.customer).toEqual({ email: "sam@example.org", name: undefined })
      expect(read1.html).toBeUndefined()
      expect(read1.metadata).toEqual({ to: "support@nestfleet.example" })
    })

    it("falls back to the first line of the text when the subject is empty", () => {
      for (const subject of ["", "   "]) {
        const read1 = message(read("email", headers, json({
          ...email,
          subject,
          text: "\n  Export stuck at 99% since Monday  \nThe spinner never stops."
        })))
        expect(read1.subject).toBe("Export stuck at 99% since Monday")
      }
      const long = message(read("email", headers, json({ ...email, subject: "", text: "x".repeat(200) })))
      expect(long.subject).toBe(`${"x".repeat(117)}...`)
      const nothing = message(read("email", headers, json({ ...email, subject: "", text: "" })))
      expect(nothing.subject).toBe("(no subject)")
      // Cut before a character, never through it: no half of a surrogate pair is left behind.
      const keys = message(read("email", headers, json({ ...email, subject: "", text: "\u{1F511}".repeat(100) })))
      expect(keys.subject).toBe(`${"\u{1F511}".repeat(58)}...`)
      const longSubject = message(read("email", headers, json({ ...email, subject: "y" + "\u{1F511}".repeat(400) })))
      expect(longSubject.subject).toBe(`y${"\u{1F511}".repeat(149)}`)
    })

    it.each(["messageId", "from", "to", "subject", "text"])("refuses an email without %s, naming it", (field) => {
      const { [field as keyof typeof email]: _, ...rest } = email
      const reason = left(read("email", headers, json(rest)))
      expect(reason).toContain("inbound email")
      expect(reason).toContain(field)
    })

    it("refuses an empty message id or sender address", () => {
      expect(left(read("email", headers, json({ ...email, messageId: " " })))).toContain("messageId")
      expect(left(read("email", headers, json({ ...email, from: { email: "" } })))).toContain("email")
    })
  })

  describe("GitHub", () => {
    const headers = (event: string): Headers => ({
      "x-github-event": event,
      "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    })
    const thread = "github-issue:Codertocat/Hello-World#1"

    it("reads issues.opened as a message on the issue's thread", () => {
      const read1 = message(read("github", headers("issues"), fixture("issues.opened.json")))
      const { issue } = fixtureJson("issues.opened.json")
      expect(read1.threadKey).toBe(thread)
      expect(read1.subject).toBe("Spelling error in the README file")
      expect(read1.subject).toBe(issue.title)
      expect(read1.body).toBe(issue.body)
      expect(read1.customer).toEqual({ handle: "Codertocat" })
      expect(read1.externalId).toBe(`github-issue:${issue.id}`)
      expect(read1.deliveryKeys).toEqual(["github-delivery:72d3162e-cc78-11e3-81ab-4c9367dc0958", `github-issue:${issue.id}`])
      expect(read1.metadata).toEqual({ repository: "Codertocat/Hello-World", issue: 1, url: issue.html_url })
    })

    it("reads issues.reopened as reopening the issue's thread", () => {
      const opened = message(read("github", headers("issues"), fixture("issues.opened.json")))
      const reopened = read("github", headers("issues"), fixture("issues.reopened.json"))
      expect(Either.isRight(reopened) && reopened.right).toMatchObject({
        _tag: "Reopen",
        threadKey: opened.threadKey,
        deliveryKeys: ["github-delivery:72d3162e-cc78-11e3-81ab-4c9367dc0958", "github-reopen:444500041@2021-10-11T16:40:56Z"],
        by: "Codertocat"
      })
    })

    it("names who reopened the issue (the sender), not its author", () => {
      const payload = fixtureJson("issues.reopened.json")
      const reopenedBySomeoneElse = { ...payload, sender: { ...payload.sender, login: "maintainer-ann" } }
      const inbound = right(read("github", headers("issues"), json(reopenedBySomeoneElse)))
      expect(inbound).toMatchObject({ _tag: "Reopen", by: "maintainer-ann" })
    })

    it("keys a reopening by the event, not the delivery: the same body under another delivery id is the same reopening", () => {
      const reopen = (delivery: string, body: Uint8Array) => {
        const inbound = right(read("github", { "x-github-event": "issues", "x-github-delivery": delivery }, body))
        if (inbound._tag !== "Reopen") return expect.fail(`expected a Reopen, got ${JSON.stringify(inbound)}`)
        return inbound.deliveryKeys[1]!
      }
      const payload = fixtureJson("issues.reopened.json")
      const first = reopen("d1", fixture("issues.reopened.json"))
      expect(reopen("d2", fixture("issues.reopened.json"))).toBe(first)
      // A later reopening of the issue moved its updated_at on.
      expect(reopen("d3", json({ ...payload, issue: { ...payload.issue, updated_at: "2021-10-12T08:30:00Z" } }))).not.toBe(first)

      // Without updated_at, the body names the event.
      const { updated_at: _, ...undated } = payload.issue
      const withoutTime = reopen("d4", json({ ...payload, issue: undated }))
      expect(withoutTime).toMatch(/^github-reopen:444500041#[\w-]{43}$/)
      expect(reopen("d5", json({ ...payload, issue: undated }))).toBe(withoutTime)
      expect(reopen("d6", json({ ...payload, issue: { ...undated, title: "Another title" } }))).not.toBe(withoutTime)
    })

    it("ignores other issues actions", () => {
      const payload = { ...fixtureJson("issues.opened.json"), action: "labeled" }
      expect(ignored(read("github", headers("issues"), new TextEncoder().encode(JSON.stringify(payload))))).toMatchObject({
        reason: expect.stringContaining("labeled")
      })
    })

    it("reads issue_comment.created as a message on the same thread as the issue", () => {
      const opened = message(read("github", headers("issues"), fixture("issues.opened.json")))
      const comment = message(read("github", headers("issue_comment"), fixture("issue_comment.created.json")))
      const payload = fixtureJson("issue_comment.created.json")
      expect(comment.threadKey).toBe(opened.threadKey)
      expect(comment.body).toBe(payload.comment.body)
      expect(comment.subject).toBe(payload.issue.title)
      expect(comment.customer).toEqual({ handle: "Codertocat" })
      expect(comment.externalId).toBe(`github-comment:${payload.comment.id}`)
      expect(comment.deliveryKeys).toContain(`github-comment:${payload.comment.id}`)
      expect(comment.externalId).not.toBe(opened.externalId)
    })

    it("ignores a comment by a bot, and edited or deleted comments", () => {
      const payload = fixtureJson("issue_comment.created.json")
      const byBot = { ...payload, comment: { ...payload.comment, user: { ...payload.comment.user, login: "nestfleet[bot]", type: "Bot" } } }
      expect(ignored(read("github", headers("issue_comment"), json(byBot)))).toMatchObject({ reason: expect.stringContaining("bot") })
      ignored(read("github", headers("issue_comment"), json({ ...payload, action: "edited" })))
      ignored(read("github", headers("issue_comment"), json({ ...payload, action: "deleted" })))
    })

    it("ignores NestFleet's own reply by the key it ends with, but not a customer quoting it above their words", () => {
      const payload = fixtureJson("issue_comment.created.json")
      const reply = ReplyMarker.append("Filter the report by date.", "nestfleet-reply-0b3f6a52-5d2e-4c55-9a7e-1f2d3c4b5a69-v2")
      const echo = { ...payload, comment: { ...payload.comment, body: reply } }
      expect(ignored(read("github", headers("issue_comment"), json(echo)))).toMatchObject({ reason: expect.stringContaining("NestFleet") })
      const quoting = { ...payload, comment: { ...payload.comment, body: `${reply.replace(/^/gm, "> ")}\n\nThat did not help.` } }
      expect(message(read("github", headers("issue_comment"), json(quoting))).body).toContain("That did not help.")
    })

    it("ignores ping and events it does not handle", () => {
      ignored(read("github", headers("ping"), fixture("ping.json")))
      ignored(read("github", headers("push"), fixture("ping.json")))
      ignored(read("github", headers("pull_request"), fixture("issues.opened.json")))
    })

    it("refuses a delivery without X-GitHub-Event or X-GitHub-Delivery", () => {
      const body = fixture("issues.opened.json")
      expect(left(read("github", { "x-github-delivery": "d1" }, body))).toContain("X-GitHub-Event")
      expect(left(read("github", { "x-github-event": "issues" }, body))).toContain("X-GitHub-Delivery")
      expect(left(read("github", { "x-github-event": "", "x-github-delivery": "d1" }, body))).toContain("X-GitHub-Event")
    })

    it("refuses an issues event that does not have an issue's shape", () => {
      expect(left(read("github", headers("issues"), fixture("ping.json")))).toMatch(/Not a GitHub issues event[\s\S]*issue/)
    })

    it("reads an issue without a body as an empty body", () => {
      const payload = fixtureJson("issues.opened.json")
      const read1 = message(read("github", headers("issues"), json({ ...payload, issue: { ...payload.issue, body: null } })))
      expect(read1.body).toBe("")
    })
  })

  describe("Slack", () => {
    const headers: Headers = { "x-slack-request-timestamp": "1741944413", "x-slack-signature": "v0=x" }
    const callback = (event: Record<string, unknown>) => ({
      token: "Jhj5dZrVaK7ZwHHjRyZWjbDl",
      team_id: "T0001",
      api_app_id: "A0KRD7HC3",
      event: { type: "message", channel: "C2147483705", user: "U2147483697", ...event },
      type: "event_callback",
      event_id: `Ev${String(event.ts ?? "0").replace(".", "")}`,
      event_time: 1741944413
    })
    const parent = callback({ text: "The export is stuck at 99%.\nCan someone look?", ts: "1741944413.000200" })

    it("answers the URL verification challenge", () => {
      expect(right(read("slack", headers, json({
        token: "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        type: "url_verification"
      })))).toEqual({ _tag: "Challenge", challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" })
    })

    it("reads a channel message as a message on its own thread", () => {
      expect(message(read("slack", headers, json(parent)))).toEqual({
        _tag: "Message",
        deliveryKeys: ["slack-event:Ev1741944413000200"],
        threadKey: "slack:C2147483705:1741944413.000200",
        repliesTo: [],
        externalId: "slack:C2147483705:1741944413.000200",
        subject: "The export is stuck at 99%.",
        body: "The export is stuck at 99%.\nCan someone look?",
        customer: { handle: "U2147483697" },
        metadata: { slackChannel: "C2147483705", ts: "1741944413.000200", threadTs: "1741944413.000200", teamId: "T0001" }
      })
    })

    it("puts a thread reply on its parent's thread, with its own id", () => {
      const first = message(read("slack", headers, json(parent)))
      const reply = message(read("slack", headers, json(callback({
        text: "Still stuck after a reload.",
        ts: "1741944499.000300",
        thread_ts: "1741944413.000200"
      }))))
      expect(reply.threadKey).toBe(first.threadKey)
      expect(reply.externalId).toBe("slack:C2147483705:1741944499.000300")
      expect(reply.deliveryKeys).not.toEqual(first.deliveryKeys)
    })

    it("reads a thread reply also sent to the channel as a reply on its thread", () => {
      const broadcast = message(read("slack", headers, json(callback({
        subtype: "thread_broadcast",
        text: "Same here, since this morning.",
        ts: "1741944600.000400",
        thread_ts: "1741944413.000200"
      }))))
      expect(broadcast.threadKey).toBe("slack:C2147483705:1741944413.000200")
      expect(broadcast.body).toBe("Same here, since this morning.")
    })

    it("reads a message with files, listing them in the body and the metadata", () => {
      const shared = message(read("slack", headers, json(callback({
        subtype: "file_share",
        text: "Here is the log",
        ts: "1741944700.000500",
        upload: false,
        display_as_bot: false,
        files: [{
          id: "F0123ABCD",
          name: "export.log",
          title: "export.log",
          mimetype: "text/plain",
          permalink: "https://acme.slack.com/files/U2147483697/F0123ABCD/export.log"
        }]
      }))))
      expect(shared.subject).toBe("Here is the log")
      expect(shared.body).toBe(
        "Here is the log\n\nShared files:\n- export.log https://acme.slack.com/files/U2147483697/F0123ABCD/export.log"
      )
      expect(shared.metadata).toMatchObject({
        files: [{ name: "export.log", url: "https://acme.slack.com/files/U2147483697/F0123ABCD/export.log" }]
      })
      const filesOnly = message(read("slack", headers, json(callback({
        subtype: "file_share",
        text: "",
        ts: "1741944701.000500",
        files: [{ id: "F0123ABCE", name: "screenshot.png" }]
      }))))
      expect(filesOnly.body).toBe("Shared files:\n- screenshot.png")
    })

    it("ignores bots, edits, joins and other event types", () => {
      ignored(read("slack", headers, json(callback({ text: "On it!", ts: "1741944500.000100", bot_id: "B012AB3CD" }))))
      for (const subtype of ["message_changed", "message_deleted", "channel_join", "bot_message"]) {
        ignored(read("slack", headers, json(callback({ text: "x", ts: "1741944500.000100", subtype }))))
      }
      ignored(read("slack", headers, json(callback({ type: "reaction_added", reaction: "eyes", ts: "1741944500.000100" }))))
      ignored(read("slack", headers, json(callback({ type: "app_mention", text: "<@U0LAN0Z89> help", ts: "1741944500.000100" }))))
      ignored(read("slack", headers, json({ type: "app_rate_limited", minute_rate_limited: 1518467820 })))
    })

    it("ignores what is not a person writing whatever its shape, so Slack never retries it", () => {
      ignored(read("slack", headers, json(callback({ subtype: "message_changed", channel: undefined, message: { text: "x" } }))))
      ignored(read("slack", headers, json(callback({ subtype: "message_deleted", ts: 1741944500, hidden: true }))))
      ignored(read("slack", headers, json(callback({ bot_id: "B012AB3CD", text: "On it!", ts: "9".repeat(100) }))))
      ignored(read("slack", headers, json(callback({ subtype: 7, text: "x", ts: "1741944500.000100" }))))
    })

    it("ignores a message with neither text nor files", () => {
      ignored(read("slack", headers, json(callback({ text: "", ts: "1741944500.000100" }))))
      ignored(read("slack", headers, json(callback({ text: "  ", ts: "1741944500.000100", files: [] }))))
      ignored(read("slack", headers, json(callback({ ts: "1741944500.000100" }))))
    })

    it("refuses a payload that is not a Slack payload", () => {
      expect(left(read("slack", headers, json({ challenge: "abc" })))).toContain("Not a Slack payload")
    })

    it("refuses a challenge or an event callback that is not well formed, naming the problem", () => {
      expect(left(read("slack", headers, json({ type: "url_verification" })))).toMatch(
        /Not a Slack url_verification[\s\S]*challenge/
      )
      expect(left(read("slack", headers, json({ type: "url_verification", challenge: 42 })))).toContain("challenge")
      expect(left(read("slack", headers, json({ ...parent, event_id: 123 })))).toMatch(/event_callback[\s\S]*event_id/)
      const { event: _, ...withoutEvent } = parent
      expect(left(read("slack", headers, json(withoutEvent)))).toMatch(/event_callback[\s\S]*event/)
      expect(left(read("slack", headers, json({ ...parent, event_id: "E".repeat(257) })))).toContain("event_id")
      expect(left(read("slack", headers, json(callback({ text: "hi", ts: "1741944500.000100", channel: undefined })))))
        .toMatch(/Slack message event[\s\S]*channel/)
      expect(left(read("slack", headers, json(callback({ text: "hi" }))))).toMatch(/Slack message event[\s\S]*ts/)
      expect(left(read("slack", headers, json(callback({ text: "hi", ts: "1".repeat(65) }))))).toContain("ts")
    })
  })

  it.each(["webhook", "email", "github", "slack"] as const)("refuses a %s body that is not JSON, saying so", (type) => {
    const headers: Headers = { "x-github-event": "issues", "x-github-delivery": "d1", "webhook-id": "m1" }
    for (const body of ["", "not json", "{\"externalId\":", "token=abc&team_id=T1"]) {
      expect(left(read(type, headers, Buffer.from(body)))).toMatch(/not JSON/)
    }
  })

  it.each(["webhook", "email", "github", "slack"] as const)("refuses a %s body that is not UTF-8, saying so", (type) => {
    const headers: Headers = { "x-github-event": "issues", "x-github-delivery": "d1", "webhook-id": "m1" }
    // {"subject":"caf\xe9"}: Latin-1, not UTF-8; never read with a replacement character.
    const latin1 = Buffer.concat([Buffer.from("{\"subject\":\"caf"), Buffer.from([0xe9]), Buffer.from("\"}")])
    expect(left(read(type, headers, latin1))).toBe("The body is not UTF-8 text, as JSON must be")
  })
})
