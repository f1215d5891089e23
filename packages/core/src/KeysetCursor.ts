/**
 * The opaque cursor of keyset pages (cases, approvals): the last row's time at full precision
 * (UTC, microseconds, as the repositories format it) and its id.
 */
import { InvalidCursor } from "@nestfleet/domain/CasesApi"
import { Effect, Schema } from "effect"

export interface Position {
  readonly createdAtKey: string
  readonly id: string
}

export const encode = (position: Position) =>
  Buffer.from(`${position.createdAtKey}|${position.id}`).toString("base64url")

const Parts = Schema.Tuple(Schema.String, Schema.UUID)

// Year 0001 on: PostgreSQL has no year 0.
const cursorTime = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

/** A time in the cursor's format that is also a real date (no February 31st). */
const isCursorTime = (time: string) =>
  cursorTime.test(time) && !Number.isNaN(Date.parse(time)) &&
  new Date(Date.parse(time)).toISOString().slice(0, 19) === time.slice(0, 19)

export const decode = (cursor: string): Effect.Effect<Position, InvalidCursor> => {
  const parts = Buffer.from(cursor, "base64url").toString("utf8").split("|")
  return Schema.is(Parts)(parts) && isCursorTime(parts[0])
    ? Effect.succeed({ createdAtKey: parts[0], id: parts[1] })
    : Effect.fail(new InvalidCursor({ message: "The cursor is not one this API gave out; start from the first page" }))
}
