import { SqlError } from "@effect/sql"
import { Effect } from "effect"

/** PostgreSQL's SQLSTATE for a unique violation, optionally on one constraint or index. */
const isUniqueViolation = (error: unknown, constraint?: string): boolean => {
  if (!(error instanceof SqlError.SqlError)) return false
  const cause = error.cause as { readonly code?: unknown; readonly constraint?: unknown } | undefined
  return cause?.code === "23505" && (constraint === undefined || cause.constraint === constraint)
}

/**
 * Turns a unique violation on `constraint` into what the caller makes of it (a domain
 * error, or another outcome); every other failure passes through.
 */
export const onUniqueViolation = <A2, E2>(constraint: string, recover: () => Effect.Effect<A2, E2>) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A | A2, E | E2, R> =>
  Effect.catchIf(effect, (error) => isUniqueViolation(error, constraint), recover)
