/**
 * Text a client sends that ends up in the database. PostgreSQL stores no NUL character in
 * text or jsonb; refusing it here makes such input a 400 instead of a failed statement.
 */
import { Schema } from "effect"

const nul = "\u0000"

export const noNul = <A extends string, I, R>(self: Schema.Schema<A, I, R>): Schema.filter<Schema.Schema<A, I, R>> =>
  self.pipe(Schema.filter((value) => !value.includes(nul) || "Cannot contain a NUL character (\\u0000)"))

/** A JSON document from a client: no NUL character anywhere, and at most `maxDepth` levels deep. */
export const jsonDocument = (options: { readonly maxDepth: number; readonly maxLength: number }) =>
  Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
    Schema.filter((document) => {
      const depthOf = (value: unknown, depth: number): number =>
        depth > options.maxDepth || typeof value !== "object" || value === null
          ? depth
          : Math.max(depth + 1, ...Object.values(value).map((child) => depthOf(child, depth + 1)))
      if (depthOf(document, 0) > options.maxDepth) return `Nests deeper than ${options.maxDepth} levels`
      const text = JSON.stringify(document)
      if (text.length > options.maxLength) return `Is over ${options.maxLength} characters as JSON`
      return !text.includes("\\u0000") || "Cannot contain a NUL character (\\u0000)"
    })
  )
