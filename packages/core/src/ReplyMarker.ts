/**
 * A reply's key, hidden at the end of its text where the target renders Markdown (a GitHub
 * comment: an HTML comment is not shown). Targets that take no idempotency key are searched
 * for it before a retry sends the reply again, and intake knows the reply's echo by it even
 * when a crash came before the echo's key was claimed.
 */

const marker = (key: string) => `<!-- ${key} -->`

/** The reply's text with its key at the end. */
export const append = (body: string, key: string) => `${body}\n\n${marker(key)}`

/** Whether `text` is the reply named `key`. */
export const carries = (text: string, key: string) => text.trimEnd().endsWith(marker(key))

/** Whether `text` ends with any NestFleet reply's key (a customer quoting a reply puts words after it). */
export const isReply = (text: string) => /<!-- nestfleet-reply-[0-9a-f-]+-v\d+ -->\s*$/.test(text)
