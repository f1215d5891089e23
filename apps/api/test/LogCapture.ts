/**
 * The server's log lines, caught as the JSON objects pino writes, for tests that check what
 * a request leaves in the log. Provide `layer` under the server's layer.
 */
import * as Logging from "@nestfleet/observability/Logging"
import { Writable } from "node:stream"

export type LogLine = Readonly<Record<string, unknown>>

export const make = () => {
  const lines: Array<LogLine> = []
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n")) {
        if (line.trim() !== "") lines.push(JSON.parse(line))
      }
      callback()
    }
  })
  return {
    lines,
    layer: Logging.layer({ destination: sink }),
    /** The lines of one request, by its id. */
    of: (requestId: string | null) => lines.filter((line) => line.requestId === requestId)
  }
}
