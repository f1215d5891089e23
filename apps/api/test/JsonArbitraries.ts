/**
 * JSON that PostgreSQL's `json`/`jsonb` cannot all hold: strings and keys with lone UTF-16
 * surrogates, NUL characters and well-formed pairs among ordinary text. And the oracle for
 * what the API keeps of it, written here on its own (not with the code under test).
 */
import fc from "fast-check"

const unit = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff", "\u0000") },
  { weight: 1, arbitrary: fc.constantFrom("\ud83d\ude00", "é", "\ufffd", "\\", "\"") },
  { weight: 6, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) }
)

/** Text in which a lone surrogate or a NUL is likely. */
export const awkwardText = fc.string({ unit, maxLength: 8 })

export const awkwardJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    awkwardText,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(awkwardText, tie("value"), { maxKeys: 4 })
  )
})).value

/** A JSON object (the stored documents are objects) with awkward keys and values. */
export const awkwardObject = fc.dictionary(awkwardText, awkwardJson, { maxKeys: 5 })

const toWellFormed = (text: string): string => (text as unknown as { toWellFormed: () => string }).toWellFormed()

const wellFormed = (value: unknown): unknown =>
  typeof value === "string"
    ? toWellFormed(value)
    : Array.isArray(value)
    ? value.map(wellFormed)
    : typeof value === "object" && value !== null
    ? Object.fromEntries(Object.entries(value).map(([key, item]) => [toWellFormed(key), wellFormed(item)]))
    : value

/**
 * What the API keeps of a value: the value as JSON carries it (-0 is 0), with every lone
 * surrogate, in keys and strings, as U+FFFD.
 */
export const kept = (value: unknown): unknown => wellFormed(JSON.parse(JSON.stringify(value)))

/** Whether JSON text of a value holds a NUL character anywhere, keys included. */
export const holdsNul = (value: unknown): boolean => JSON.stringify(value).includes("\\u0000")

/** Whether a value holds a lone surrogate anywhere, keys included. */
export const holdsLoneSurrogate = (value: unknown): boolean => /\\u[dD][89a-fA-F]/.test(JSON.stringify(value))
