import { describe, expect, it } from "@effect/vitest"
import { JSONSchema, Schema } from "effect"
import { formatName, forPrompt, restoreAbsent, toStrict } from "../src/StrictJsonSchema.js"
import * as TriageTask from "../src/TriageTask.js"

describe("StrictJsonSchema", () => {
  it("closes every object, requires every property and drops what strict mode does not know", () => {
    const { optionalsMadeNullable, schema, strict } = toStrict(JSONSchema.make(TriageTask.TriageOutput))
    expect(strict).toBe(true)
    expect(optionalsMadeNullable).toBe(false)
    expect(schema).toMatchObject({
      type: "object",
      additionalProperties: false,
      required: ["type", "severity", "confidence", "summary", "reasoning"],
      properties: {
        confidence: { type: "number", minimum: 0, maximum: 1 },
        summary: { type: "string" },
        reasoning: { type: "array", minItems: 1, items: { $ref: "#/$defs/ReasoningStep" } }
      },
      $defs: { ReasoningStep: { additionalProperties: false, required: ["step", "detail", "evidence"] } }
    })
    const text = JSON.stringify(schema)
    for (const dropped of ["$schema", "minLength", "maxLength", "title"]) expect(text).not.toContain(dropped)
  })

  it("makes an optional property a nullable required one, and restores its absence in the answer", () => {
    const Item = Schema.Struct({ name: Schema.String, note: Schema.optional(Schema.String) })
    const Output = Schema.Struct({
      title: Schema.String,
      owner: Schema.optional(Schema.NullOr(Schema.String)),
      items: Schema.Array(Item),
      choice: Schema.Union(Schema.Struct({ kind: Schema.Literal("a"), extra: Schema.optional(Schema.Number) }), Schema.String)
    })
    const root = JSONSchema.make(Output)
    const { optionalsMadeNullable, schema, strict } = toStrict(root)
    expect(strict).toBe(true)
    expect(optionalsMadeNullable).toBe(true)
    expect(schema).toMatchObject({
      required: ["title", "owner", "items", "choice"],
      // Already nullable: kept as it is.
      properties: { owner: { anyOf: [{ type: "string" }, { type: "null" }] } }
    })
    expect(schema).toHaveProperty(["properties", "items", "items", "properties", "note", "anyOf", 1], { type: "null" })

    const answer = {
      title: "t",
      owner: null,
      items: [{ name: "a", note: null }, { name: "b", note: "n" }],
      choice: { kind: "a", extra: null }
    }
    const restored = restoreAbsent(root, answer)
    expect(restored).toEqual({ title: "t", owner: null, items: [{ name: "a" }, { name: "b", note: "n" }], choice: { kind: "a" } })
    expect(Schema.decodeUnknownSync(Output)(restored)).toEqual(restored)
  })

  it("sends non-strict what strict mode cannot express", () => {
    for (
      const root of [
        JSONSchema.make(Schema.Struct({ counts: Schema.Record({ key: Schema.String, value: Schema.Number }) })),
        JSONSchema.make(Schema.Struct({ anything: Schema.Unknown })),
        JSONSchema.make(Schema.Array(Schema.String))
      ]
    ) {
      const result = toStrict(root)
      expect(result.strict).toBe(false)
      expect(result.schema).toEqual(forPrompt(root))
      expect(result.schema).not.toHaveProperty("$schema")
    }
  })

  it("names a format as OpenAI allows", () => {
    expect(formatName("triage")).toBe("triage")
    expect(formatName("summarise thread/v2")).toBe("summarise_thread_v2")
    expect(formatName("x".repeat(80))).toHaveLength(64)
    expect(formatName("")).toBe("answer")
  })
})
