import { describe, expect, it } from "@effect/vitest"
import { depthOf, holdsNul, mayHoldUnstorableText, replaceLoneSurrogates, storable, truncate, wellFormed } from "../src/Text.js"

/** JSON text nesting `depth` arrays around `inner`. */
const nested = (depth: number, inner = "1") => `${"[".repeat(depth)}${inner}${"]".repeat(depth)}`

describe("mayHoldUnstorableText", () => {
  it("is true for text with an escaped NUL or surrogate, in either case", () => {
    for (const text of ["\"\\u0000\"", "{\"\\ud800\":1}", "\"\\uDBFF\"", "\"\\udc00\"", "\"\\uDfFf\""]) {
      expect([text, mayHoldUnstorableText(text)]).toEqual([text, true])
    }
  })

  it("is false for text whose escapes and characters are all storable", () => {
    for (const text of ["{\"a\":\"b\"}", "\"\\u00e9\\ue000\\uffff\"", "\"\ufffd\u{1F600}\"", "\"\\u0001\""]) {
      expect([text, mayHoldUnstorableText(text)]).toEqual([text, false])
    }
  })

  it("is true for every lone surrogate JSON.parse can produce", () => {
    for (let unit = 0xd800; unit <= 0xdfff; unit += 0x3f) {
      const text = JSON.stringify(String.fromCharCode(unit))
      expect([text, mayHoldUnstorableText(text)]).toEqual([text, true])
    }
  })
})

describe("replaceLoneSurrogates", () => {
  it("replaces lone surrogates in strings and keys, and keeps pairs", () => {
    const parsed = JSON.parse("{\"k\\ud800\":[\"\\udc00x\",\"\\ud83d\\ude00\",{\"\\udfff\":\"a\\ud800\"}],\"ok\":1}")
    expect(replaceLoneSurrogates(parsed)).toEqual({
      "k\ufffd": ["\ufffdx", "\u{1F600}", { "\ufffd": "a\ufffd" }],
      ok: 1
    })
    expect(replaceLoneSurrogates(JSON.parse("\"\\ud800\""))).toBe("\ufffd")
    expect(wellFormed("\udc00\ud800\udc00\ud800")).toBe("\ufffd\u{10000}\ufffd")
  })

  it("keeps keys that collide once replaced as JSON.parse keeps repeated keys (the last value), and __proto__ a key", () => {
    const parsed = JSON.parse("{\"\\ud800\":1,\"\\ud801\":2,\"__proto__\":{\"\\udc00\":3}}") as Record<string, unknown>
    replaceLoneSurrogates(parsed)
    expect(Object.keys(parsed)).toEqual(["\ufffd", "__proto__"])
    expect(parsed["\ufffd"]).toBe(2)
    expect(Object.getOwnPropertyDescriptor(parsed, "__proto__")?.value).toEqual({ "\ufffd": 3 })
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype)
    const named = replaceLoneSurrogates(JSON.parse("{\"__proto__\":\"\\ud800\"}")) as object
    expect(Object.getOwnPropertyDescriptor(named, "__proto__")?.value).toBe("\ufffd")
    expect(Object.getPrototypeOf(named)).toBe(Object.prototype)
  })

  it("walks JSON nested deeper than the call stack goes", () => {
    const parsed = JSON.parse(nested(200_000, "\"\\ud800\""))
    expect(() => replaceLoneSurrogates(parsed)).not.toThrow()
  })
})

describe("holdsNul", () => {
  it("finds a NUL in a string or a key, however deep", () => {
    expect(holdsNul(JSON.parse("{\"a\":[1,{\"b\":\"x\\u0000\"}]}"))).toBe(true)
    expect(holdsNul(JSON.parse("{\"a\\u0000\":1}"))).toBe(true)
    expect(holdsNul(JSON.parse("\"\\u0000\""))).toBe(true)
    expect(holdsNul(JSON.parse(nested(200_000, "\"\\u0000\"")))).toBe(true)
    expect(holdsNul(JSON.parse("{\"a\":[\"\\\\u0000\"]}"))).toBe(false)
  })
})

describe("depthOf", () => {
  it("counts nesting, up to just past the limit", () => {
    expect(depthOf(1, 10)).toBe(0)
    expect(depthOf({}, 10)).toBe(1)
    expect(depthOf({ a: [1, { b: [] }] }, 10)).toBe(4)
    expect(depthOf(JSON.parse(nested(200_000)), 10)).toBe(11)
  })

  it("measures an array of hundreds of thousands of items (spread into arguments, it overflowed the stack)", () => {
    expect(depthOf({ a: Array.from({ length: 300_000 }, () => 0) }, 10)).toBe(2)
  })
})

describe("truncate", () => {
  it("cuts at max UTF-16 units, one fewer rather than split a surrogate pair", () => {
    expect(truncate("abcdef", 3)).toBe("abc")
    expect(truncate("abc", 3)).toBe("abc")
    expect(truncate("ab\u{1F511}cd", 3)).toBe("ab")
    expect(truncate("ab\u{1F511}cd", 4)).toBe("ab\u{1F511}")
    expect(wellFormed(truncate("\u{1F511}".repeat(200), 117))).toBe(truncate("\u{1F511}".repeat(200), 117))
  })
})

describe("storable", () => {
  it("makes lone surrogates and NUL characters U+FFFD, and keeps everything else", () => {
    expect(storable("a\ud800b\u0000c\udc00")).toBe("a\uFFFDb\uFFFDc\uFFFD")
    expect(storable("p\u00e4ss \u{1F511}")).toBe("p\u00e4ss \u{1F511}")
  })
})
