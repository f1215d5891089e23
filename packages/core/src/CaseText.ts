/** What the pipeline reads of a case: its subject and its customer's messages, oldest first. */
import type { CaseRow, MessageRow } from "@nestfleet/db/CasesRepo"
import { truncate } from "@nestfleet/domain/Text"
import { createHash } from "node:crypto"

export const customerText = (messages: ReadonlyArray<MessageRow>, maxCharacters: number) =>
  truncate(
    messages.filter((message) => message.kind === "inbound").map((message) => message.body).join("\n\n"),
    maxCharacters
  )

/** The text a case is embedded and searched by: enough to say what it is about. */
export const forMatching = (row: CaseRow, messages: ReadonlyArray<MessageRow>) =>
  `${row.subject}\n\n${customerText(messages, 2000)}`

export const hash = (text: string) => createHash("sha256").update(text).digest("hex")
