/**
 * Failures a caller cannot act on — the database refusing a statement, a row of ours that
 * does not decode, a statement that should return a row returning none — become defects at the service boundary: logged with their cause and
 * answered 500 by the API, never shown to a client.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Cause, Effect, ParseResult } from "effect"

type Unexpected = SqlError | ParseResult.ParseError | Cause.NoSuchElementException

const isUnexpected = (error: unknown): error is Unexpected =>
  error instanceof SqlError || ParseResult.isParseError(error) || Cause.isNoSuchElementException(error)

export const orDieUnexpected = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Unexpected>, R> =>
  Effect.catchIf(effect, isUnexpected, Effect.die) as Effect.Effect<A, Exclude<E, Unexpected>, R>
