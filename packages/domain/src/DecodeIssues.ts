/**
 * What a client is told when its input cannot be read: each field by its path and the rule
 * it broke — never the value it sent. Effect's formatters quote the value ("Expected string,
 * actual 5", "Unable to decode \"abc\" into a number") and print the schema's whole tree, and
 * V8 quotes the text around a JSON syntax error; a refused password, a channel secret or a
 * whole `text/plain` body would come back in the answer, and in whatever logs answers.
 *
 * Messages a schema states itself (a filter's, a `message` annotation's) are kept as they are:
 * they are written in this package, name the rule, and never interpolate the value.
 */
import { ParseResult } from "effect"

export type Issue = ParseResult.ArrayFormatterIssue

/** Effect's "Expected X, actual <value>": what precedes this is the schema's, what follows the client's. */
const actualMarker = ", actual "
/** Effect's template literal parser: "<pattern>: no match for <value>". */
const noMatchMarker = ": no match for "
/** Effect's transformations: "Unable to decode <value> into a number" (bigint, DateTime.Utc…). */
const unableToDecode = /^Unable to decode [\s\S]* into (.+)$/
/** Which side of a transformation failed is the schema's business, not the client's. */
const sides = / \((?:Encoded|Type) side\)/g

const expectedThing = (expected: string) =>
  expected.startsWith("{ ") ? "an object" : expected.startsWith("ReadonlyArray<") ? "an array" : expected

/** The rule an issue states, without the value that broke it. */
const ruleOf = (issue: Issue): string => {
  switch (issue._tag) {
    case "Missing":
      return "is missing"
    case "Unexpected":
      return "is not expected"
    case "Forbidden":
      return "cannot be checked"
  }
  const message = issue.message.replace(sides, "")
  const actual = message.indexOf(actualMarker)
  if (message.startsWith("Expected ") && actual >= 0) {
    return `Expected ${expectedThing(message.slice("Expected ".length, actual))}`
  }
  const decodeInto = unableToDecode.exec(message)
  if (decodeInto !== null) return `Expected ${decodeInto[1]}`
  const noMatch = message.indexOf(noMatchMarker)
  if (noMatch >= 0) return `Expected a match for ${message.slice(0, noMatch)}`
  return message
}

const samePath = (a: ReadonlyArray<PropertyKey>, b: ReadonlyArray<PropertyKey>) =>
  a.length === b.length && a.every((key, index) => key === b[index])

/** Whether `path` is `ancestor` or lies under it. */
const startsWith = (path: ReadonlyArray<PropertyKey>, ancestor: ReadonlyArray<PropertyKey>) =>
  path.length >= ancestor.length && ancestor.every((key, index) => key === path[index])

const expectedUndefined = "Expected undefined"

/**
 * The issues with their messages rewritten by `ruleOf`, repeats removed, and without the
 * "Expected undefined" that an optional field adds beside the real problem. That problem
 * may be at the field itself or anywhere inside it (an optional object whose nested field is
 * wrong): an "Expected undefined" goes whenever another issue lies at or under its path.
 * A repeat of the same "Expected undefined" is not such an issue, or both copies would go.
 */
export const withoutValues = (issues: ReadonlyArray<Issue>): Array<Issue> => {
  const rewritten = issues.map((issue): Issue => ({ _tag: issue._tag, path: issue.path, message: ruleOf(issue) }))
  const isExpectedUndefinedAt = (issue: Issue, path: ReadonlyArray<PropertyKey>) =>
    issue.message === expectedUndefined && samePath(issue.path, path)
  return rewritten.filter((issue, index) =>
    !(issue.message === expectedUndefined &&
      rewritten.some((other) => startsWith(other.path, issue.path) && !isExpectedUndefinedAt(other, issue.path))) &&
    rewritten.findIndex((other) => samePath(other.path, issue.path) && other.message === issue.message) === index
  )
}

/** `customer.email`, `components[2].name`; empty for the value itself. */
export const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (text, key) => typeof key === "number" ? `${text}[${key}]` : text === "" ? String(key) : `${text}.${String(key)}`,
    ""
  )

const maxFieldsDescribed = 10

/**
 * One line for issues already without values: `password: Expected string; email: is
 * missing`, alternatives at one path joined by "or" (`to: Expected string or an array`).
 */
export const describe = (issues: ReadonlyArray<Issue>): string => {
  const byPath = new Map<string, Array<string>>()
  for (const issue of issues) {
    const path = pathText(issue.path)
    byPath.set(path, [...byPath.get(path) ?? [], issue.message])
  }
  const lines = [...byPath].slice(0, maxFieldsDescribed).map(([path, rules]) => {
    const rule = rules.every((text) => text.startsWith("Expected "))
      ? `Expected ${rules.map((text) => text.slice("Expected ".length)).join(" or ")}`
      : rules.join(" or ")
    return path === "" ? rule : `${path}: ${rule}`
  })
  const more = byPath.size - maxFieldsDescribed
  return more > 0 ? `${lines.join("; ")}; and ${more} more` : lines.join("; ")
}

/** The issues of a Schema decode, without the values that broke them. */
export const fromParseError = (error: ParseResult.ParseError): Array<Issue> =>
  withoutValues(ParseResult.ArrayFormatter.formatErrorSync(error))

/** V8's syntax errors that say where, not what: "… in JSON at position 1 (line 1 column 2)". */
const atPosition = /^[^"]* JSON at position \d+(?: \(line \d+ column \d+\))?$/

/**
 * What is wrong with text `JSON.parse` refused. V8 says where for most errors, but quotes the
 * text around an unexpected character ("Unexpected token 's', \"secret-pa\"... is not valid
 * JSON"); that text is the client's, so only the kind of error is kept there.
 */
export const jsonSyntaxProblem = (error: unknown): string => {
  const message = error instanceof Error ? error.message : ""
  if (atPosition.test(message) || message === "Unexpected end of JSON input") return message
  return message.startsWith("Unexpected token") ? "Unexpected character" : "Not valid JSON"
}
