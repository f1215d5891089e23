/** The header that carries a request's id, on the way in (optional) and on the way out. */
export const requestIdHeader = "x-request-id"

const acceptable = /^[A-Za-z0-9._:-]{8,128}$/

/** An incoming id is kept only when it is a plain token, so it is safe in logs and bodies. */
export const isAcceptableRequestId = (value: string): boolean => acceptable.test(value)
