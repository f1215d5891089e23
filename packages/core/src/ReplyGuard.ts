/**
 * What a model's draft must be before it can go to a customer: not empty, citing at least one
 * source, and citing only sources that were retrieved for it. A draft that fails is never
 * sent; the case goes to a person with the reason.
 */
import { Either } from "effect"

/** The `[n]` markers of a text, in order of first appearance. */
export const markersOf = (body: string): Array<number> => [
  ...new Set([...body.matchAll(/\[(\d{1,4})\]/g)].map((match) => Number(match[1])))
]

/** The sources the body cites (by its markers), or why it cannot be sent. */
export const check = (body: string, retrieved: ReadonlySet<number>): Either.Either<Array<number>, string> => {
  if (body.trim() === "") return Either.left("The draft is empty")
  const markers = markersOf(body)
  if (markers.length === 0) return Either.left("The draft cites no source")
  const unknown = markers.filter((n) => !retrieved.has(n))
  if (unknown.length > 0) {
    return Either.left(`The draft cites ${unknown.map((n) => `[${n}]`).join(", ")}, which ${unknown.length === 1 ? "was" : "were"} not retrieved`)
  }
  return Either.right(markers)
}
