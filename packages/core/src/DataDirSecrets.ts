/**
 * Keys the embedded setup generates for itself, so that `pnpm start` with no configuration
 * still signs tokens and encrypts secrets with a key that survives restarts. Each key is a
 * file in the data dir, next to the database it protects, readable by its owner only.
 *
 * The file is created atomically: the key is written in full to a temporary file that is
 * then hard-linked into place. A link fails if the name exists, so of two processes
 * starting at once exactly one key wins and the other reads it; nobody ever reads a
 * half-written key.
 */
import { Data, Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

export class DataDirSecretError extends Data.TaggedError("DataDirSecretError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

const errorCode = (cause: unknown) => (cause as NodeJS.ErrnoException | undefined)?.code

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const attempt = <A>(message: string, f: () => Promise<A>) =>
  Effect.tryPromise({
    try: f,
    catch: (cause) => new DataDirSecretError({ message: `${message}: ${describe(cause)}`, cause })
  })

/** The key in `file`, or `undefined` when there is no such file yet. */
const readExisting = (file: string, bytes: number) =>
  Effect.flatMap(
    attempt(`Cannot read ${file}`, () =>
      Fs.readFile(file, "utf8").catch((cause: unknown) => {
        if (errorCode(cause) === "ENOENT") return undefined
        throw cause
      })),
    (text) => {
      if (text === undefined) return Effect.succeed(undefined)
      // A trailing newline is tolerated: someone may have written the file with `echo`.
      const hex = text.trim()
      return hex.length === bytes * 2 && /^[0-9a-fA-F]*$/.test(hex)
        ? Effect.succeed(Buffer.from(hex, "hex"))
        : Effect.fail(
          new DataDirSecretError({
            message: `${file} is malformed: expected ${bytes * 2} hexadecimal characters (a ${bytes}-byte key). ` +
              "Restore the original file; removing it generates a new key, and whatever the old one protected " +
              "becomes unreadable"
          })
        )
    }
  )

/** Writes a fresh key and links it into place; `false` when another process got there first. */
const create = (file: string, key: Buffer) => {
  const temporary = `${file}.${process.pid}-${randomBytes(6).toString("hex")}.tmp`
  return attempt(`Cannot create ${file}`, async () => {
    try {
      const handle = await Fs.open(temporary, "wx", 0o600)
      try {
        await handle.writeFile(`${key.toString("hex")}\n`)
        // On disk before it gets its name: a crash must not leave an empty key behind.
        await handle.sync()
      } finally {
        await handle.close()
      }
      await Fs.link(temporary, file)
      return true
    } catch (cause) {
      if (errorCode(cause) === "EEXIST") return false
      throw cause
    } finally {
      await Fs.rm(temporary, { force: true })
    }
  })
}

/**
 * The `bytes`-byte key stored in `<dataDir>/<fileName>`, generated on first use. Creates
 * the data dir (owner-only) when it does not exist yet.
 */
export const readOrCreate = (
  dataDir: string,
  fileName: string,
  bytes: number
): Effect.Effect<Buffer, DataDirSecretError> => {
  const file = Path.join(dataDir, fileName)
  return Effect.gen(function*() {
    const existing = yield* readExisting(file, bytes)
    if (existing !== undefined) return existing
    yield* attempt(`Cannot create the data dir ${dataDir}`, () => Fs.mkdir(dataDir, { recursive: true, mode: 0o700 }))
    const key = randomBytes(bytes)
    if (yield* create(file, key)) {
      yield* Effect.logInfo(`Generated a new key in ${file}; back it up together with the data dir`)
      return key
    }
    const winner = yield* readExisting(file, bytes)
    if (winner !== undefined) return winner
    return yield* new DataDirSecretError({ message: `${file} disappeared while it was being created` })
  }).pipe(Effect.withSpan("DataDirSecrets.readOrCreate", { attributes: { file } }))
}
