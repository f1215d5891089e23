import { describe, expect, it } from "@effect/vitest"
import * as BuiltinReply from "../src/BuiltinReply.js"
import type { ReplySource } from "../src/ReplyTask.js"

const source = (n: number, title: string, text: string, heading = title): ReplySource => ({
  n,
  title,
  heading,
  url: `https://docs.example.com/${title.toLowerCase().replaceAll(" ", "-")}`,
  text
})

const ask = (body: string, sources: ReadonlyArray<ReplySource>, subject = "Help") =>
  BuiltinReply.reply({ subject, messages: [{ from: "customer", body }], sources })

describe("BuiltinReply", () => {
  it("blocks keep a fenced code block whole, blank lines and all", () => {
    const text = "Install it:\n\n```sh\nnpm install pino\n\nnpx pino --help\n```\n\nThen log."
    expect(BuiltinReply.blocksOf(text)).toEqual(["Install it:", "```sh\nnpm install pino\n\nnpx pino --help\n```", "Then log."])
  })

  it("quotes the block sharing most words with the customer, word for word, with the short ones after it", () => {
    const text = [
      "Pino is a fast logger for Node.js with a small footprint and many transports for every kind of destination.",
      "To write logs to a file, pass a destination to pino.destination and give it to the logger.",
      "```js\nconst logger = pino(pino.destination('./app.log'))\n```",
      "Rotation is done by an external tool such as logrotate."
    ].join("\n\n")
    const answer = ask("How do I write my logs to a file?", [source(1, "Destinations", text)])
    expect(answer.cited).toEqual([1])
    expect(answer.body).toBe(
      'Our documentation covers this:\n\nFrom "Destinations" [1]:\n\n' +
        "> To write logs to a file, pass a destination to pino.destination and give it to the logger.\n>\n" +
        "> ```js\n> const logger = pino(pino.destination('./app.log'))\n> ```\n>\n" +
        "> Rotation is done by an external tool such as logrotate."
    )
  })

  it("quotes one passage per article, at most three articles, in the sources' order, and names the section", () => {
    const sources = [
      source(1, "Exports", "Exports larger than a million rows fail.", "Exports › Limits"),
      source(2, "Exports", "Exports are sent by email."),
      source(3, "Filters", "Filter a report by date before exporting."),
      source(4, "Schedules", "Schedule an export every night."),
      source(5, "Sharing", "Share an export with a link.")
    ]
    const answer = ask("My export fails", sources)
    expect(answer.cited).toEqual([1, 3, 4])
    expect(answer.body).toContain('From "Exports" (Limits) [1]:')
    expect(answer.body).not.toContain("[2]")
    expect(answer.body).not.toContain("[5]")
  })

  it("writes nothing when there is nothing to quote", () => {
    expect(ask("Anything?", [])).toEqual({ body: "", cited: [] })
    expect(ask("Anything?", [source(1, "Blank", "\n\n  \n")])).toEqual({ body: "", cited: [] })
  })
})
