/**
 * A `Database` that only says which backend it is: the key layers read nothing else. Any
 * other use dies, so a layer that starts querying shows up here rather than passing quietly.
 */
import { Database, type DatabaseBackend } from "@nestfleet/db/Database"
import { Layer, Redacted } from "effect"

const unstubbed = (name: string) =>
  new Proxy({}, {
    get: () => {
      throw new Error(`${name} is not stubbed`)
    }
  }) as never

const layer = (backend: DatabaseBackend) => Layer.succeed(Database, Database.of({ pool: unstubbed("pool"), backend }))

export const server = layer({ _tag: "Server", url: Redacted.make("postgres://localhost/nestfleet") })

export const embedded = (dataDir: string) =>
  layer({
    _tag: "Embedded",
    dataDir,
    listen: () => {
      throw new Error("listen is not stubbed")
    }
  })
