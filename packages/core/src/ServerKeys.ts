/**
 * The server's two keys, resolved once for the process: the secret that signs access tokens
 * (`AccessTokens`) and the key that encrypts secrets at rest (`SecretCipher`). Both services
 * receive their key from here, so where a key comes from is decided in one place:
 *
 * - its variable, `JWT_SECRET` or `ENCRYPTION_KEY`, when set (see `KeysConfig`);
 * - else, on the embedded database, a key generated once and kept in its data dir
 *   (`DataDirSecrets`), so tokens and stored secrets survive a restart; on an in-memory
 *   embedded database, fresh random bytes each time the layer is built: nothing it
 *   protects outlives it;
 * - against a PostgreSQL server, both variables are required. Several processes share the
 *   server and must share the keys; a key generated per process would differ between
 *   them, and one generated per start would lose every stored secret at the next.
 *
 * A test that needs neither file nor variable gives the services their key directly:
 * `AccessTokens.fromSecret(secret)` and `SecretCipher.fromKey(key)`.
 */
import { Database, inMemory } from "@nestfleet/db/Database"
import { DatabaseConfig } from "@nestfleet/db/DatabaseConfig"
import { Config, ConfigError, Effect, Either, Option, Redacted } from "effect"
import * as Crypto from "node:crypto"
import * as DataDirSecrets from "./DataDirSecrets.js"
import { KeysConfig } from "./KeysConfig.js"

/** What a generated key has: the size of HS256's hash, and AES-256's key size. */
const keyBytes = 32

interface ConfiguredKeys {
  readonly jwtSecret: Redacted.Redacted
  readonly encryptionKey: Redacted.Redacted
}

/**
 * Both keys, or one error naming every variable that is missing (never a value): an
 * operator fixes them all in one go rather than one per failed start.
 */
const requireBoth = (keys: KeysConfig): Either.Either<ConfiguredKeys, ConfigError.ConfigError> => {
  if (Option.isSome(keys.jwtSecret) && Option.isSome(keys.encryptionKey)) {
    return Either.right({ jwtSecret: keys.jwtSecret.value, encryptionKey: keys.encryptionKey.value })
  }
  const required = (value: Option.Option<unknown>, name: string, shape: string) =>
    Option.isNone(value) ? [ConfigError.InvalidData([name], `required when DATABASE_URL is set (${shape})`)] : []
  const missing = [
    ...required(keys.jwtSecret, "JWT_SECRET", "at least 32 bytes, e.g. openssl rand -hex 32"),
    ...required(keys.encryptionKey, "ENCRYPTION_KEY", "64 hex characters, e.g. openssl rand -hex 32")
  ]
  return Either.left(missing.reduce(ConfigError.And))
}

/** ENCRYPTION_KEY alone, for a process that signs no tokens (the worker); an error naming it otherwise. */
const requireEncryptionKey = (keys: KeysConfig): Either.Either<Redacted.Redacted, ConfigError.ConfigError> =>
  Option.isSome(keys.encryptionKey)
    ? Either.right(keys.encryptionKey.value)
    : Either.left(
      ConfigError.InvalidData(["ENCRYPTION_KEY"], "required when DATABASE_URL is set (64 hex characters, e.g. openssl rand -hex 32)")
    )

/** HMAC sees bytes: the secret's UTF-8 bytes, as the variable's length rule counts them. */
const jwtSecretBytes = (secret: Redacted.Redacted) => Buffer.from(Redacted.value(secret), "utf8")
const encryptionKeyBytes = (key: Redacted.Redacted) => Buffer.from(Redacted.value(key), "hex")

/** A key on the embedded database: its variable, else the data-dir file, else (in memory) random bytes. */
const embeddedKey = (
  configured: Option.Option<Redacted.Redacted>,
  bytesOf: (value: Redacted.Redacted) => Buffer,
  dataDir: string,
  fileName: string
) =>
  Option.match(configured, {
    onSome: (value) => Effect.succeed(bytesOf(value)),
    onNone: () =>
      dataDir === inMemory
        ? Effect.sync(() => Crypto.randomBytes(keyBytes))
        : DataDirSecrets.readOrCreate(dataDir, fileName, keyBytes)
  })

const resolve = Effect.gen(function*() {
  const keys = yield* KeysConfig
  const { backend } = yield* Database
  if (backend._tag === "Server") {
    const configured = yield* requireBoth(keys)
    return { jwtSecret: jwtSecretBytes(configured.jwtSecret), encryptionKey: encryptionKeyBytes(configured.encryptionKey) }
  }
  return {
    jwtSecret: yield* embeddedKey(keys.jwtSecret, jwtSecretBytes, backend.dataDir, "jwt.secret"),
    encryptionKey: yield* embeddedKey(keys.encryptionKey, encryptionKeyBytes, backend.dataDir, "encryption.key")
  }
})

/**
 * The encryption key alone, from where `ServerKeys` would take it, for a process that decrypts
 * stored secrets but signs no tokens: the worker (it reads the AI settings' API key). Against
 * a server it needs ENCRYPTION_KEY only, not JWT_SECRET.
 */
export const resolveEncryptionKey = Effect.gen(function*() {
  const keys = yield* KeysConfig
  const { backend } = yield* Database
  if (backend._tag === "Server") return encryptionKeyBytes(yield* requireEncryptionKey(keys))
  return yield* embeddedKey(keys.encryptionKey, encryptionKeyBytes, backend.dataDir, "encryption.key")
})

export class ServerKeys extends Effect.Service<ServerKeys>()("@nestfleet/core/ServerKeys", {
  // Redacted: a service that is logged or traced by mistake shows no key.
  effect: Effect.map(resolve, (keys) => ({
    /** The HMAC key for access tokens: JWT_SECRET's UTF-8 bytes, or 32 generated bytes. */
    jwtSecret: Redacted.make(keys.jwtSecret),
    /** The AES-256-GCM key for secrets at rest: 32 bytes. */
    encryptionKey: Redacted.make(keys.encryptionKey)
  }))
}) {
  /**
   * The keys' variables as `main.ts` checks them with the rest of its configuration, before
   * anything connects: with DATABASE_URL set, the rule above (both required), so that a
   * server that cannot be reached is not what an operator missing a key hears about first.
   */
  static readonly config: Config.Config<KeysConfig> = Config.all([DatabaseConfig, KeysConfig]).pipe(
    Config.mapOrFail(([database, keys]) =>
      Option.isSome(database.url) ? Either.map(requireBoth(keys), () => keys) : Either.right(keys)
    )
  )

  /** As `config`, for a process that needs the encryption key only (`resolveEncryptionKey`). */
  static readonly encryptionKeyConfig: Config.Config<KeysConfig> = Config.all([DatabaseConfig, KeysConfig]).pipe(
    Config.mapOrFail(([database, keys]) =>
      Option.isSome(database.url) ? Either.map(requireEncryptionKey(keys), () => keys) : Either.right(keys)
    )
  )
}
