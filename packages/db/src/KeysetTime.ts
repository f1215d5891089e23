/**
 * A row's time as the keyset cursors of pages carry it: UTC, microseconds, one fixed format
 * whatever the session's DateStyle (see core's KeysetCursor).
 */
export const keyOf = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
