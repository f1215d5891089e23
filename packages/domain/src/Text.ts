/**
 * Text a client sends that ends up in the database. PostgreSQL stores no NUL character in
 * text or jsonb; refusing it here makes such input a 400 instead of a failed statement.
 * `json`/`jsonb` cannot hold a lone UTF-16 surrogate either (`"\ud800"`): where a request's
 * JSON is read, each one becomes U+FFFD — what a text column receives for it anyway.
 */
import { Schema } from "effect"

const nul = "\u0000"

export const noNul = <A extends string, I, R>(self: Schema.Schema<A, I, R>): Schema.filter<Schema.Schema<A, I, R>> =>
  self.pipe(Schema.filter((value) => !value.includes(nul) || "Cannot contain a NUL character (\\u0000)"))

/**
 * How deeply a JSON value nests (`{}` is 1, `{"a":[]}` 2), counted up to just past `limit`.
 * With a stack, and without spreading children into arguments: a wide array (a few hundred
 * thousand items fit in a body) or a deep one would overflow the call stack.
 */
export const depthOf = (value: unknown, limit: number): number => {
  let deepest = 0
  const nodes: Array<unknown> = [value]
  const depths: Array<number> = [0]
  while (nodes.length > 0) {
    const node = nodes.pop()
    const depth = depths.pop()! + 1
    if (typeof node !== "object" || node === null) continue
    if (depth > limit) return limit + 1
    if (depth > deepest) deepest = depth
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) {
        nodes.push(child)
        depths.push(depth)
      }
    }
  }
  return deepest
}

/** A JSON document from a client, named `name` in messages: no NUL character, bounded depth and size. */
export const jsonDocument = (options: { readonly name: string; readonly maxDepth: number; readonly maxLength: number }) =>
  Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
    Schema.filter((document) => {
      if (depthOf(document, options.maxDepth) > options.maxDepth) {
        return `${options.name} nests deeper than ${options.maxDepth} levels`
      }
      const text = JSON.stringify(document)
      if (text.length > options.maxLength) return `${options.name} is over ${options.maxLength} characters`
      return !text.includes("\\u0000") || `${options.name} cannot contain a NUL character (\\u0000)`
    })
  )

const unstorableEscape = /\\u(?:0000|[dD][89a-fA-F])/

/**
 * Whether JSON text may hold, once parsed, a NUL character or a lone UTF-16 surrogate —
 * neither of which PostgreSQL's `json`/`jsonb` can store. Both can only be written as `\u`
 * escapes (a raw NUL is not JSON; a surrogate has no UTF-8 encoding, so a decoder turns its
 * bytes into U+FFFD or refuses them), so text without such an escape needs no walk: the
 * common case costs one scan that finds nothing. An escaped backslash before `u0000` matches
 * too; the walk then finds nothing.
 */
export const mayHoldUnstorableText = (jsonText: string): boolean => unstorableEscape.test(jsonText)

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * `text` with every lone surrogate replaced by U+FFFD — what a UTF-8 encoder writes for one,
 * so what a text column receives anyway. (`String.prototype.toWellFormed`, not in ES2023.)
 */
export const wellFormed = (text: string): string => text.replace(loneSurrogate, "\uFFFD")

/**
 * `text` as PostgreSQL can store it, in a text column or in `jsonb`: lone surrogates and NUL
 * characters become U+FFFD. For text the server did not get from a client it could refuse —
 * a model's answer, which is stored as it is or not at all.
 */
export const storable = (text: string): string => wellFormed(text).replaceAll(nul, "\uFFFD")

/**
 * The first `max` UTF-16 units of `text`, one fewer when the cut would split a surrogate pair:
 * a character is kept whole or left out, never half of it (a lone half would be stored as
 * U+FFFD, and in `jsonb` not at all).
 */
export const truncate = (text: string, max: number): string => {
  if (text.length <= max) return text
  const last = text.charCodeAt(max - 1)
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max)
}

/**
 * Calls `visit` on every object and array inside a parsed JSON value (the value itself
 * included), found with a stack rather than by recursion: JSON may nest deeper than the call
 * stack goes. Stops, answering true, when `visit` does.
 */
const someContainer = (root: unknown, visit: (container: Record<string, unknown> | Array<unknown>) => boolean): boolean => {
  const pending: Array<unknown> = [root]
  while (pending.length > 0) {
    const node = pending.pop()
    if (typeof node !== "object" || node === null) continue
    if (visit(node as Record<string, unknown> | Array<unknown>)) return true
    if (Array.isArray(node)) {
      for (let index = 0; index < node.length; index++) {
        const item: unknown = node[index]
        if (typeof item === "object" && item !== null) pending.push(item)
      }
    } else {
      for (const key in node) {
        const item = (node as Record<string, unknown>)[key]
        if (typeof item === "object" && item !== null) pending.push(item)
      }
    }
  }
  return false
}

const renameKeys = (record: Record<string, unknown>, rename: (key: string) => string) => {
  const keys = Object.keys(record)
  if (keys.every((key) => rename(key) === key)) return
  const entries = keys.map((key) => [rename(key), record[key]] as const)
  for (const key of keys) delete record[key]
  // Defined, not assigned: a key named `__proto__` stays a key.
  for (const [key, value] of entries) {
    Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true })
  }
}

/**
 * Replaces every lone surrogate, in strings and in keys, by U+FFFD: the rule for JSON a
 * client sends, applied where it is read, so that no field stored as `jsonb` can be missed.
 * Changes the value in place (it is the caller's own, fresh from `JSON.parse`) and answers it;
 * keys that become equal keep the last value, as `JSON.parse` does with repeated keys.
 */
export const replaceLoneSurrogates = (parsed: unknown): unknown => {
  if (typeof parsed === "string") return wellFormed(parsed)
  someContainer(parsed, (container) => {
    if (Array.isArray(container)) {
      for (let index = 0; index < container.length; index++) {
        const item: unknown = container[index]
        if (typeof item === "string") container[index] = wellFormed(item)
      }
    } else {
      renameKeys(container, wellFormed)
      for (const key in container) {
        const item = container[key]
        if (typeof item === "string") container[key] = wellFormed(item)
      }
    }
    return false
  })
  return parsed
}

/** Whether a parsed JSON value holds a NUL character in any string or key. */
export const holdsNul = (parsed: unknown): boolean =>
  typeof parsed === "string" ? parsed.includes(nul) : someContainer(parsed, (container) => {
    if (Array.isArray(container)) return container.some((item) => typeof item === "string" && item.includes(nul))
    for (const key in container) {
      const item = container[key]
      if (key.includes(nul) || (typeof item === "string" && item.includes(nul))) return true
    }
    return false
  })
