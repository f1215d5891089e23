/** The header that carries a request's id, on the way in (optional) and on the way out. */
export const requestIdHeader = "x-request-id"

/** Long enough for a UUID or a proxy's trace id, short enough that nobody smuggles a payload in one. */
const acceptable = /^[A-Za-z0-9._:-]{8,64}$/

/**
 * An incoming id is kept only when it is a short, plain token, so it is safe in logs, headers
 * and error bodies; anything else is replaced by an id of our own.
 */
export const isAcceptableRequestId = (value: string): boolean => acceptable.test(value)
