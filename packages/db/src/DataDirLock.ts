/**
 * A lock file that keeps a second process off the embedded database's data dir: PGlite
 * has no locking of its own, and two writers would corrupt it. A lock left behind by a
 * process that died is taken over.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { DataDirLocked, DatabaseUnavailable } from "./DatabaseError.js"

const lockFileName = "nestfleet.lock"

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const readOwner = (file: string): number | undefined => {
  try {
    const pid = Number(JSON.parse(Fs.readFileSync(file, "utf8")).pid)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

const tryCreate = (file: string): boolean => {
  try {
    Fs.writeFileSync(file, JSON.stringify({ pid: process.pid, since: new Date().toISOString() }), { flag: "wx" })
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false
    throw error
  }
}

const lock = (dataDir: string) =>
  Effect.try({
    try: (): { readonly _tag: "Locked"; readonly file: string } | { readonly _tag: "Held"; readonly pid: number } => {
      Fs.mkdirSync(dataDir, { recursive: true })
      const file = Path.join(dataDir, lockFileName)
      for (let attempt = 0; attempt < 2; attempt++) {
        if (tryCreate(file)) return { _tag: "Locked", file }
        const owner = readOwner(file)
        if (owner !== undefined && isAlive(owner)) return { _tag: "Held", pid: owner }
        // The owner is gone (or the file is unreadable): a stale lock from a crash.
        Fs.rmSync(file, { force: true })
      }
      return { _tag: "Held", pid: readOwner(file) ?? -1 }
    },
    catch: (cause) => new DatabaseUnavailable({ message: `Cannot lock the data dir ${dataDir}`, cause })
  })

const unlock = (file: string) =>
  Effect.sync(() => {
    if (readOwner(file) === process.pid) Fs.rmSync(file, { force: true })
  })

/** Holds the data dir for the life of the scope. */
export const acquire = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.flatMap(lock(dataDir), (result) =>
      result._tag === "Locked"
        ? Effect.succeed(result.file)
        : Effect.fail(new DataDirLocked({ dataDir, pid: result.pid }))),
    unlock
  )
