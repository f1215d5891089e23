/**
 * CPU time spent by processes, read from Linux's /proc: what a benchmark's work cost, beside
 * how long it took. A process's time counts all its threads (the builtin encoder's worker too).
 */
import * as Fs from "node:fs"
import * as Os from "node:os"

/** Clock ticks a second in /proc's figures (USER_HZ), 100 on Linux. */
const ticksPerSecond = 100

/** utime + stime of /proc/<pid>/stat in ms, and the process's name; null when it is gone. */
const read = (pid: string): { readonly name: string; readonly ms: number } | null => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The name is in parentheses and may hold spaces; the fields after it are counted from it.
    const close = stat.lastIndexOf(")")
    const fields = stat.slice(close + 2).split(" ")
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    return { name: stat.slice(stat.indexOf("(") + 1, close), ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond }
  } catch {
    return null
  }
}

/** The CPU ms process `pid` has used so far. */
export const ofProcess = (pid: number): number => read(String(pid))?.ms ?? Number.NaN

/** The CPU ms every running `postgres` process (the server and its backends) has used so far. */
export const ofPostgres = (): number =>
  Fs.readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(read)
    .reduce((total, process) => total + (process?.name === "postgres" ? process.ms : 0), 0)

export const cores = Os.availableParallelism()
