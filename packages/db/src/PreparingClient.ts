/**
 * A `pg` client that runs the statements marked with `marker` as named prepared
 * statements, so PostgreSQL parses and plans each of them once per connection rather than
 * on every run.
 *
 * Planning is most of what the hot statements cost the database: pg-boss's job insert is
 * over 3 KB of SQL, and with planning skipped `pnpm bench ingest` answered about a third
 * more deliveries. But a plan made once is kept, and PostgreSQL may settle on a generic
 * plan chosen while the tables were small; a lookup that scans would then slow down as the
 * table grows. So statements are prepared only when marked, and only those whose plan
 * cannot depend on table sizes are marked: inserts whose conflicts go to a unique index,
 * lookups by primary key.
 *
 * - Names are derived from the text, so equal texts share a statement on a connection.
 * - At most `maxPreparedPerConnection` texts are prepared on a connection; past that, new
 *   texts run unprepared.
 * - A statement whose result columns a migration changed fails once with "cached plan must
 *   not change result type"; it is prepared again, under a new name, on its next run.
 */
import { createHash } from "node:crypto"
import pg from "pg"

/** Starts the text of a statement to be prepared (PostgreSQL reads it as a comment). */
export const marker = "/* prepared */"

export const maxPreparedPerConnection = 256

const cachedPlanChanged = (error: unknown) =>
  typeof error === "object" && error !== null && "code" in error && error.code === "0A000" &&
  "message" in error && typeof error.message === "string" && error.message.includes("cached plan must not change")

type Callback = (error: Error | null, result?: unknown) => void

export class PreparingClient extends pg.Client {
  /** Text → the name it is prepared under on this connection. */
  readonly #names = new Map<string, string>()
  #prepared = 0

  #nameFor(text: string): string | undefined {
    const known = this.#names.get(text)
    if (known !== undefined || this.#prepared >= maxPreparedPerConnection) return known
    const name = `nf_${createHash("sha1").update(text).digest("base64url").slice(0, 22)}_${this.#prepared++}`
    this.#names.set(text, name)
    return name
  }

  override query(...args: Array<any>): any {
    const [text, values, callback] = args
    const name = typeof text === "string" && text.startsWith(marker) && Array.isArray(values) &&
        (callback === undefined || typeof callback === "function")
      ? this.#nameFor(text)
      : undefined
    if (name === undefined) return (super.query as (...args: Array<any>) => any)(...args)
    const config = { name, text, values }
    const forgetIfStale = (error: unknown) => {
      if (cachedPlanChanged(error) && this.#names.get(text) === name) this.#names.delete(text)
    }
    if (callback === undefined) {
      return super.query(config).catch((error: unknown) => {
        forgetIfStale(error)
        throw error
      })
    }
    return super.query(config, (error: Error | null, result: unknown) => {
      if (error !== null) forgetIfStale(error)
      ;(callback as Callback)(error, result)
    })
  }
}
