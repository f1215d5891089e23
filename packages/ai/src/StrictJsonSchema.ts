/**
 * A task's JSON Schema (Effect's `JSONSchema.make`) adapted to OpenAI's strict structured
 * output, which accepts a subset of JSON Schema: every object closed
 * (`additionalProperties: false`) with every property required, and only the keywords it
 * knows. Keywords it does not know are dropped rather than refused — the task's Schema still
 * checks them when the answer is decoded, and a violation gets the repair turn. An optional
 * property becomes a required one that may be `null`, and `restoreAbsent` turns those nulls
 * back into absent properties before decoding. A schema strict mode cannot express (a
 * record, `allOf`, an untyped value, a root that is not an object) is sent non-strict.
 */
import type { JSONSchema } from "effect"

type JsonObject = Readonly<Record<string, unknown>>

/** The schema as plain JSON to walk (Effect's types are interfaces, which have no index signature). */
const asJson = (root: JSONSchema.JsonSchema7Root): JsonObject => Object.fromEntries(Object.entries(root))

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** What strict mode accepts; anything else is dropped. */
const supportedKeywords = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "enum",
  "const",
  "anyOf",
  "$ref",
  "$defs",
  "description",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minItems",
  "maxItems",
  "pattern",
  "format"
])

const supportedFormats = new Set(["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"])

/** Keywords that change what is valid in a way strict mode cannot say: the schema goes non-strict. */
const inexpressibleKeywords = ["allOf", "oneOf", "not", "patternProperties", "if", "then", "else", "prefixItems"]

/** Keywords that say what a value is; strict mode refuses a schema without one (anything goes). */
const typingKeywords = ["type", "anyOf", "$ref", "enum", "const"]

export interface StrictSchema {
  /** The schema to send. */
  readonly schema: JsonObject
  /** Whether strict mode can take it. */
  readonly strict: boolean
  /** Whether optional properties were made nullable, so the answer needs `restoreAbsent`. */
  readonly optionalsMadeNullable: boolean
}

const expressible = (node: unknown, isDefsTable = false): boolean => {
  if (!isObject(node)) return false
  if (isDefsTable) return Object.values(node).every((definition) => expressible(definition))
  if (inexpressibleKeywords.some((keyword) => keyword in node)) return false
  if (!typingKeywords.some((keyword) => keyword in node)) return false
  if (node.additionalProperties !== undefined && node.additionalProperties !== false) return false
  if (Array.isArray(node.items)) return false
  return [
    ...(isObject(node.properties) ? Object.values(node.properties) : []),
    ...(Array.isArray(node.anyOf) ? node.anyOf : []),
    ...(node.items === undefined ? [] : [node.items])
  ].every((child) => expressible(child)) && (node.$defs === undefined || expressible(node.$defs, true))
}

const allowsNull = (node: JsonObject, defs: JsonObject): boolean => {
  const resolved = resolve(node, defs)
  if (resolved === undefined) return false
  const type = resolved.type
  return type === "null" ||
    (Array.isArray(type) && type.includes("null")) ||
    (Array.isArray(resolved.enum) && resolved.enum.includes(null)) ||
    ("const" in resolved && resolved.const === null) ||
    (Array.isArray(resolved.anyOf) && resolved.anyOf.some((branch) => isObject(branch) && allowsNull(branch, defs)))
}

/** A local `#/$defs/Name` reference followed; other nodes as they are. */
const resolve = (node: JsonObject, defs: JsonObject): JsonObject | undefined => {
  if (typeof node.$ref !== "string") return node
  const target = defs[node.$ref.replace(/^#\/\$defs\//, "")]
  return isObject(target) ? target : undefined
}

export const toStrict = (root: JSONSchema.JsonSchema7Root): StrictSchema => {
  const rootObject = asJson(root)
  const defs = isObject(rootObject.$defs) ? rootObject.$defs : {}
  if (rootObject.type !== "object" || !expressible(rootObject)) {
    return { schema: forPrompt(root), strict: false, optionalsMadeNullable: false }
  }
  let optionalsMadeNullable = false

  const strictify = (node: JsonObject): JsonObject => {
    const out: Record<string, unknown> = {}
    for (const [keyword, value] of Object.entries(node)) {
      if (!supportedKeywords.has(keyword)) continue
      if (keyword === "format" && !(typeof value === "string" && supportedFormats.has(value))) continue
      out[keyword] = value
    }
    if (isObject(node.properties)) {
      const required = new Set(Array.isArray(node.required) ? node.required : [])
      const properties: Record<string, unknown> = {}
      for (const [name, property] of Object.entries(node.properties)) {
        if (!isObject(property)) continue
        const strictProperty = strictify(property)
        if (required.has(name) || allowsNull(property, defs)) {
          properties[name] = strictProperty
        } else {
          optionalsMadeNullable = true
          properties[name] = { anyOf: [strictProperty, { type: "null" }] }
        }
      }
      out.properties = properties
      out.required = Object.keys(properties)
      out.additionalProperties = false
    }
    if (node.type === "object" && out.additionalProperties === undefined) out.additionalProperties = false
    if (isObject(node.items)) out.items = strictify(node.items)
    if (Array.isArray(node.anyOf)) out.anyOf = node.anyOf.filter(isObject).map(strictify)
    if (isObject(node.$defs)) {
      out.$defs = Object.fromEntries(
        Object.entries(node.$defs).filter((entry): entry is [string, JsonObject] => isObject(entry[1])).map((
          [name, definition]
        ) => [name, strictify(definition)])
      )
    }
    return out
  }

  const schema = strictify(rootObject)
  return { schema, strict: true, optionalsMadeNullable }
}

/** The schema as written into a prompt (JSON mode): all of it but the meta-schema reference. */
export const forPrompt = (root: JSONSchema.JsonSchema7Root): JsonObject => {
  const { $schema: _metaSchema, ...rest } = asJson(root)
  return rest
}

/**
 * Drops the `null`s a strict answer gives for optional properties it leaves out, so that the
 * task's Schema — where such a property is absent, not null — decodes it. A property whose
 * own schema allows null keeps it.
 */
export const restoreAbsent = (root: JSONSchema.JsonSchema7Root, value: unknown): unknown => {
  const rootObject = asJson(root)
  const defs = isObject(rootObject.$defs) ? rootObject.$defs : {}

  const restore = (node: JsonObject | undefined, current: unknown): unknown => {
    const schema = node === undefined ? undefined : resolve(node, defs)
    if (schema === undefined) return current
    if (Array.isArray(current)) {
      return isObject(schema.items) ? current.map((item) => restore(schema.items as JsonObject, item)) : current
    }
    if (!isObject(current)) return current
    if (Array.isArray(schema.anyOf)) return restore(branchFor(schema.anyOf, current), current)
    if (!isObject(schema.properties)) return current
    const properties = schema.properties
    const required = new Set(Array.isArray(schema.required) ? schema.required : [])
    const restored: Record<string, unknown> = {}
    for (const [name, field] of Object.entries(current)) {
      const property = properties[name]
      const propertySchema = isObject(property) ? property : undefined
      if (field === null && !required.has(name) && propertySchema !== undefined && !allowsNull(propertySchema, defs)) {
        continue
      }
      restored[name] = restore(propertySchema, field)
    }
    return restored
  }

  /** The union member a strict answer followed: the object schema with exactly the answer's keys. */
  const branchFor = (branches: ReadonlyArray<unknown>, current: JsonObject): JsonObject | undefined => {
    const keys = Object.keys(current).sort().join("\u0000")
    return branches
      .filter(isObject)
      .map((branch) => resolve(branch, defs))
      .find((branch) => isObject(branch?.properties) && Object.keys(branch.properties).sort().join("\u0000") === keys)
  }

  return restore(rootObject, value)
}

/** A name OpenAI accepts for a response format: `[a-zA-Z0-9_-]{1,64}`. */
export const formatName = (task: string): string => task.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64) || "answer"
