import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { DataDirSecretError, readOrCreate } from "../src/DataDirSecrets.js"

/** A data dir that does not exist yet, inside a fresh temporary directory. */
const freshDataDir = () => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-secrets-")), "data")

describe("DataDirSecrets.readOrCreate", () => {
  it.effect("creates the data dir and an owner-only hex key file once, then reads it back", () =>
    Effect.gen(function*() {
      const dataDir = freshDataDir()
      const created = yield* readOrCreate(dataDir, "test.key", 32)
      expect(created).toHaveLength(32)
      const file = Path.join(dataDir, "test.key")
      expect(Fs.readFileSync(file, "utf8")).toBe(`${created.toString("hex")}\n`)
      if (process.platform !== "win32") {
        expect(Fs.statSync(file).mode & 0o777).toBe(0o600)
        expect(Fs.statSync(dataDir).mode & 0o777).toBe(0o700)
      }
      const again = yield* readOrCreate(dataDir, "test.key", 32)
      expect(again.equals(created)).toBe(true)
      const other = yield* readOrCreate(dataDir, "other.key", 16)
      expect(other).toHaveLength(16)
      expect(Fs.readdirSync(dataDir).sort()).toEqual(["other.key", "test.key"])
    }))

  it.effect("gives concurrent creators the same key and leaves no temporary files", () =>
    Effect.gen(function*() {
      const dataDir = freshDataDir()
      const logs: Array<unknown> = []
      const keys = yield* Effect.all(Array.from({ length: 16 }, () => readOrCreate(dataDir, "race.key", 32)), {
        concurrency: "unbounded"
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(message)))))
      // Exactly one creator won the link; the others read its key.
      expect(logs).toHaveLength(1)
      const distinct = new Set(keys.map((key) => key.toString("hex")))
      expect(distinct.size).toBe(1)
      expect(Fs.readdirSync(dataDir)).toEqual(["race.key"])
      expect(Fs.readFileSync(Path.join(dataDir, "race.key"), "utf8").trim()).toBe([...distinct][0])
    }))

  it.effect("refuses a malformed key file, naming the file and not its content", () =>
    Effect.gen(function*() {
      const dataDir = freshDataDir()
      Fs.mkdirSync(dataDir, { recursive: true })
      const file = Path.join(dataDir, "bad.key")
      const contents = ["this is not hex at all, it is a sentence", "ab".repeat(31), "ab".repeat(33), "", "zz".repeat(32)]
      for (const content of contents) {
        Fs.writeFileSync(file, content)
        const error = yield* Effect.flip(readOrCreate(dataDir, "bad.key", 32))
        expect(error).toBeInstanceOf(DataDirSecretError)
        expect(error.message).toContain(file)
        expect(error.message).toContain("malformed")
        if (content !== "") expect(error.message).not.toContain(content)
        // The file is left as it was: a key someone may still recover is never overwritten.
        expect(Fs.readFileSync(file, "utf8")).toBe(content)
      }
    }))

  it.effect("tolerates surrounding whitespace in a hand-written key file", () =>
    Effect.gen(function*() {
      const dataDir = freshDataDir()
      Fs.mkdirSync(dataDir, { recursive: true })
      const hex = "0f".repeat(32)
      Fs.writeFileSync(Path.join(dataDir, "hand.key"), `  ${hex}\r\n`)
      const key = yield* readOrCreate(dataDir, "hand.key", 32)
      expect(key.toString("hex")).toBe(hex)
    }))

  it.effect("reports a data dir it cannot create", () =>
    Effect.gen(function*() {
      const parent = Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-secrets-"))
      const blocker = Path.join(parent, "a-file")
      Fs.writeFileSync(blocker, "")
      const error = yield* Effect.flip(readOrCreate(Path.join(blocker, "data"), "test.key", 32))
      expect(error._tag).toBe("DataDirSecretError")
      expect(error.message).toContain(blocker)
    }))
})
