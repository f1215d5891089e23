import type { SqlError } from "@effect/sql"

/** PostgreSQL's SQLSTATE for a unique violation, optionally on one constraint or index. */
export const isUniqueViolation = (error: SqlError.SqlError, constraint?: string): boolean => {
  const cause = error.cause as { readonly code?: unknown; readonly constraint?: unknown } | undefined
  return cause?.code === "23505" && (constraint === undefined || cause.constraint === constraint)
}
