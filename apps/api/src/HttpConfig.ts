import { Config } from "effect"

export interface HttpConfig {
  readonly host: string
  readonly port: number
  /** Bodies over this many bytes are refused with 413 before they are read. */
  readonly maxBodyBytes: number
  /** Behind our own proxy (Caddy): the client's address is the last X-Forwarded-For entry. */
  readonly trustProxy: boolean
}

export const HttpConfig: Config.Config<HttpConfig> = Config.all({
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
  port: Config.port("PORT").pipe(Config.withDefault(4000)),
  maxBodyBytes: Config.integer("HTTP_MAX_BODY_BYTES").pipe(
    Config.validate({ message: "Expected a positive number of bytes", validation: (n) => n > 0 }),
    // An article body may be 1 MiB of Markdown, and JSON escapes make it longer on the wire.
    Config.withDefault(2 * 1024 * 1024)
  ),
  trustProxy: Config.boolean("TRUST_PROXY").pipe(Config.withDefault(false))
})
