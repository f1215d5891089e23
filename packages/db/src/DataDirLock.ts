/**
 * A lock file that keeps a second process off the embedded database's data dir: PGlite
 * has no locking of its own, and two writers would corrupt it. A lock left behind by a
 * process that died is taken over.
 */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { DataDirLocked, DatabaseUnavailable } from "./DatabaseError.js"

const lockFileName = "nestfleet.lock"

/** Data dirs this process holds: a second open from the same process is refused too. */
const heldHere = new Set<string>()

interface Owner {
  readonly pid: number
  readonly token: string
}

const readOwner = (file: string): Owner | undefined => {
  try {
    const parsed = JSON.parse(Fs.readFileSync(file, "utf8"))
    const pid = Number(parsed.pid)
    return Number.isInteger(pid) && pid > 0 ? { pid, token: String(parsed.token) } : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether the process that wrote a lock still runs. A lock with our own pid is from an
 * earlier process that had the same pid (pid 1 in a container that restarted): this one
 * would have it in `heldHere`.
 */
const isAlive = (pid: number): boolean => {
  if (pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const tryCreate = (file: string, owner: Owner): boolean => {
  try {
    Fs.writeFileSync(file, JSON.stringify({ ...owner, since: new Date().toISOString() }), { flag: "wx" })
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false
    throw error
  }
}

/**
 * Moves a stale lock aside. The rename is atomic, so of several processes taking over at
 * once one moves the stale lock; if what was moved turns out to be a fresh lock another
 * process created meanwhile, it is put back.
 */
const removeStale = (file: string, stale: Owner | undefined) => {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString("hex")}`
  try {
    Fs.renameSync(file, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return
    throw error
  }
  const moved = readOwner(aside)
  if (moved !== undefined && moved.token !== stale?.token) {
    try {
      Fs.linkSync(aside, file)
    } catch {
      // A newer lock is already in place; the owner of the one we moved will notice on release.
    }
  }
  Fs.rmSync(aside, { force: true })
}

const lock = (dataDir: string) =>
  Effect.try({
    try: (): { readonly _tag: "Locked"; readonly file: string; readonly owner: Owner } | {
      readonly _tag: "Held"
      readonly pid: number
    } => {
      if (heldHere.has(dataDir)) return { _tag: "Held", pid: process.pid }
      Fs.mkdirSync(dataDir, { recursive: true })
      const file = Path.join(dataDir, lockFileName)
      const owner: Owner = { pid: process.pid, token: randomBytes(16).toString("hex") }
      for (let attempt = 0; attempt < 5; attempt++) {
        if (tryCreate(file, owner)) return { _tag: "Locked", file, owner }
        const current = readOwner(file)
        if (current !== undefined && isAlive(current.pid)) return { _tag: "Held", pid: current.pid }
        removeStale(file, current)
      }
      return { _tag: "Held", pid: readOwner(file)?.pid ?? -1 }
    },
    catch: (cause) => new DatabaseUnavailable({ message: `Cannot lock the data dir ${dataDir}`, cause })
  })

const unlock = (dataDir: string, file: string, owner: Owner) =>
  Effect.sync(() => {
    heldHere.delete(dataDir)
    if (readOwner(file)?.token === owner.token) Fs.rmSync(file, { force: true })
  })

/** Holds the data dir for the life of the scope. */
export const acquire = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.flatMap(lock(dataDir), (result) => {
      if (result._tag === "Held") return Effect.fail(new DataDirLocked({ dataDir, pid: result.pid }))
      heldHere.add(dataDir)
      return Effect.succeed(result)
    }),
    ({ file, owner }) => unlock(dataDir, file, owner)
  )
