/**
 * Text a client sends that ends up in the database. PostgreSQL stores no NUL character in
 * text or jsonb; refusing it here makes such input a 400 instead of a failed statement.
 */
import { Schema } from "effect"

const nul = "\u0000"

export const noNul = <A extends string, I, R>(self: Schema.Schema<A, I, R>): Schema.filter<Schema.Schema<A, I, R>> =>
  self.pipe(Schema.filter((value) => !value.includes(nul) || "Cannot contain a NUL character (\\u0000)"))

/** How deeply a JSON value nests, counted up to just past `limit`. */
export const depthOf = (value: unknown, limit: number, depth = 0): number =>
  depth > limit || typeof value !== "object" || value === null
    ? depth
    : Math.max(depth + 1, ...Object.values(value).map((child) => depthOf(child, limit, depth + 1)))

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
