/**
 * The two secrets the server keeps, as configured: the key that signs access tokens and the
 * key that encrypts secrets at rest. Both are optional here because the embedded setup
 * generates its own; `ServerKeys` decides where each comes from, and requires both with a
 * PostgreSQL server. A value that is set but too weak stops the start, naming the variable
 * and never echoing the value.
 */
import { Config, ConfigError, Either, Option, Redacted } from "effect"

export interface KeysConfig {
  /** HMAC key for access tokens (HS256); at least 32 bytes, the size of the hash. */
  readonly jwtSecret: Option.Option<Redacted.Redacted>
  /** AES-256-GCM key for secrets at rest, as 64 hex characters (32 bytes). */
  readonly encryptionKey: Option.Option<Redacted.Redacted>
}

/**
 * An optional secret that must pass `isValid` when present. An empty value counts as
 * unset: `JWT_SECRET=` in an env file or compose file means "not configured".
 */
const optionalSecret = (name: string, isValid: (value: string) => boolean, message: string) =>
  Config.redacted(name).pipe(
    Config.option,
    Config.mapOrFail((secret) => {
      const value = Option.map(secret, Redacted.value)
      if (Option.isNone(value) || value.value === "") return Either.right(Option.none<Redacted.Redacted>())
      return isValid(value.value) ? Either.right(secret) : Either.left(ConfigError.InvalidData([name], message))
    })
  )

export const KeysConfig: Config.Config<KeysConfig> = Config.all({
  // Counted in bytes, not characters: HMAC sees bytes, and a short secret of multi-byte
  // characters is no stronger than its bytes.
  jwtSecret: optionalSecret(
    "JWT_SECRET",
    (value) => Buffer.byteLength(value, "utf8") >= 32,
    "Expected at least 32 bytes (e.g. the output of `openssl rand -hex 32`)"
  ),
  encryptionKey: optionalSecret(
    "ENCRYPTION_KEY",
    (value) => /^[0-9a-fA-F]{64}$/.test(value),
    "Expected 64 hexadecimal characters (a 32-byte key, e.g. the output of `openssl rand -hex 32`)"
  )
})
