/**
 * What of a request's URL may be written down — in the access log, on the request's span:
 * its path and the *names* of its query parameters (`/api/v1/cases`, `q,limit`), never their
 * values. A mistaken `?access_token=` or a `q=` search with a customer's words would
 * otherwise land in the log and the traces.
 */

/**
 * A name as clients write them: short, plain characters. Anything else — a token pasted
 * where a name goes (`?eyJhbGciOi…`) — is written as `(withheld)`.
 */
const plainName = /^[A-Za-z0-9_.[\]-]{1,32}$/

const nameOf = (parameter: string) => {
  const equals = parameter.indexOf("=")
  const raw = equals < 0 ? parameter : parameter.slice(0, equals)
  try {
    const name = decodeURIComponent(raw.replaceAll("+", " "))
    return plainName.test(name) ? name : "(withheld)"
  } catch {
    return "(withheld)"
  }
}

export interface RequestTarget {
  readonly path: string
  /** `q,limit` for `q=…&limit=…&q=…`: each name once, in order; absent without a query. */
  readonly queryNames: string | undefined
}

export const describe = (url: string): RequestTarget => {
  const queryAt = url.indexOf("?")
  if (queryAt < 0) return { path: url, queryNames: undefined }
  const names = url.slice(queryAt + 1).split("&").filter((parameter) => parameter !== "").map(nameOf)
  return { path: url.slice(0, queryAt), queryNames: [...new Set(names)].join(",") }
}
