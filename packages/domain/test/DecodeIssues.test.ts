import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as DecodeIssues from "../src/DecodeIssues.js"

const issuesOf = <A, I>(schema: Schema.Schema<A, I>, value: unknown) => {
  const result = Schema.decodeUnknownEither(schema, { errors: "all" })(value)
  if (Either.isRight(result)) throw new Error("expected a decode failure")
  return DecodeIssues.fromParseError(result.left)
}

class Login extends Schema.Class<Login>("Login")({
  email: Schema.String,
  password: Schema.Redacted(Schema.String.pipe(Schema.minLength(8))),
  role: Schema.optional(Schema.Literal("admin", "agent")),
  limit: Schema.optional(Schema.NumberFromString),
  to: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.String))),
  name: Schema.optional(Schema.String.pipe(Schema.filter((name) => name !== "root" || "Cannot be root")))
}) {}

describe("DecodeIssues", () => {
  it("names the field and the rule, never the value", () => {
    const sent = { email: 5, password: "shortpw", role: "owner-secret", limit: "limit-secret", to: 12345678901 }
    const issues = issuesOf(Login, sent)
    expect(issues).toEqual([
      { _tag: "Type", path: ["email"], message: "Expected string" },
      { _tag: "Refinement", path: ["password"], message: "Expected a string at least 8 character(s) long" },
      { _tag: "Type", path: ["role"], message: "Expected \"admin\"" },
      { _tag: "Type", path: ["role"], message: "Expected \"agent\"" },
      { _tag: "Transformation", path: ["limit"], message: "Expected a number" },
      { _tag: "Type", path: ["to"], message: "Expected string" },
      { _tag: "Type", path: ["to"], message: "Expected an array" }
    ])
    const described = DecodeIssues.describe(issues)
    expect(described).toBe(
      "email: Expected string; password: Expected a string at least 8 character(s) long; " +
        "role: Expected \"admin\" or \"agent\"; limit: Expected a number; to: Expected string or an array"
    )
    for (const value of ["shortpw", "owner-secret", "limit-secret", "12345678901"]) expect(described).not.toContain(value)
  })

  it("keeps a schema's own message, says what is missing, and drops an optional's 'Expected undefined'", () => {
    expect(DecodeIssues.describe(issuesOf(Login, { password: "long-enough", name: "root" }))).toBe(
      "email: is missing; name: Cannot be root"
    )
  })

  it("drops an optional's 'Expected undefined' when the real problem is deeper inside the field", () => {
    const Settings = Schema.Struct({
      settings: Schema.optional(Schema.Struct({ components: Schema.Array(Schema.Struct({ name: Schema.String })) }))
    })
    expect(DecodeIssues.describe(issuesOf(Settings, { settings: { components: [{ name: 5 }] } }))).toBe(
      "settings.components[0].name: Expected string"
    )
    // A sibling's path that merely starts with the same characters is not inside the field.
    expect(DecodeIssues.withoutValues([
      { _tag: "Type", path: ["settings"], message: "Expected undefined, actual 1" },
      { _tag: "Type", path: ["settingsOther"], message: "Expected string, actual 1" }
    ]).map((issue) => issue.message)).toEqual(["Expected undefined", "Expected string"])
    // Alone, even repeated, it is the problem, and is kept once.
    const alone = { _tag: "Type", path: ["a"], message: "Expected undefined, actual 5" } as const
    expect(DecodeIssues.withoutValues([alone, alone])).toEqual([{ _tag: "Type", path: ["a"], message: "Expected undefined" }])
  })

  it("says a whole value is not an object without printing the schema's fields", () => {
    expect(DecodeIssues.describe(issuesOf(Schema.Struct({ a: Schema.String }), "whole-body-secret"))).toBe(
      "Expected an object"
    )
    expect(DecodeIssues.describe(issuesOf(Login, "whole-body-secret"))).toBe("Expected Login")
  })

  it("writes paths the way a client reads them", () => {
    expect(DecodeIssues.pathText(["settings", "components", 2, "name"])).toBe("settings.components[2].name")
    expect(DecodeIssues.pathText([])).toBe("")
  })

  it("says where JSON breaks, never the text around it", () => {
    const problemOf = (text: string) => {
      try {
        JSON.parse(text)
      } catch (error) {
        return DecodeIssues.jsonSyntaxProblem(error)
      }
      throw new Error("expected a syntax error")
    }
    expect(problemOf("{")).toBe("Expected property name or '}' in JSON at position 1 (line 1 column 2)")
    expect(problemOf("{\"a\":")).toBe("Unexpected end of JSON input")
    expect(problemOf("[1] trailing-secret")).toBe("Unexpected non-whitespace character after JSON at position 4 (line 1 column 5)")
    expect(problemOf("{\"password\": hunter2-secret}")).toBe("Unexpected character")
    expect(problemOf("secret-password-text")).toBe("Unexpected character")
  })
})
