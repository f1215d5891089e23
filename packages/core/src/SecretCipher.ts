/**
 * Secrets at rest (integration tokens, SMTP passwords, webhook signing keys) encrypted with
 * AES-256-GCM, so a leaked database dump or backup does not leak them too.
 *
 * A stored value says how it was written: `nfs1.<keyId>.<iv>.<ciphertext>.<tag>` (parts
 * base64url, keyId = the first 8 hex digits of SHA-256 of the key). `nfs0.<base64url of the
 * text>` is a secret an earlier version stored in the clear, before a key was required: it is
 * still read (and Channels encrypts such values at start), never written. The version and key
 * id are what a later key rotation needs to find and re-encrypt old values, and they let a
 * wrong key be reported as such rather than as corruption. GCM authenticates every value: a
 * tampered or truncated one fails to decrypt; it never decrypts to garbage.
 *
 * The service's key comes from `ServerKeys`. A test of a service that stores secrets
 * (Channels) gives it a fixed key instead, with no data dir or variable involved:
 *
 *   const cipher = Layer.succeed(SecretCipher, SecretCipher.fromKey(Buffer.alloc(32, 7)))
 */
import type { Database } from "@nestfleet/db/Database"
import { type ConfigError, Data, Effect, Layer, Redacted } from "effect"
import * as Crypto from "node:crypto"
import type { DataDirSecretError } from "./DataDirSecrets.js"
import { resolveEncryptionKey, ServerKeys } from "./ServerKeys.js"

/** How a secret an earlier version stored in the clear begins. */
export const storedInTheClear = "nfs0."

/** Says what is wrong with a stored value; never contains the value, the plaintext or the key. */
export class SecretDecryptionError extends Data.TaggedError("SecretDecryptionError")<{
  readonly message: string
}> {}

const keyBytes = 32
/** 96 bits: the IV size GCM is specified for; random per value, so never reused under a key. */
const ivBytes = 12
const tagBytes = 16

const keyIdOf = (key: Buffer) => Crypto.createHash("sha256").update(key).digest("hex").slice(0, 8)

const base64url = /^[A-Za-z0-9_-]*$/

/** Strict: Node's decoder skips characters outside the alphabet instead of rejecting them. */
const decodePart = (part: string) => (base64url.test(part) ? Buffer.from(part, "base64url") : undefined)

/** Strict too: bytes that are not UTF-8 mean the value is not one we wrote. */
const utf8 = new TextDecoder("utf-8", { fatal: true })
const decodeText = (bytes: Buffer) => {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

const fail = (message: string) => Effect.fail(new SecretDecryptionError({ message }))

const decodePlain = (encoded: string) => {
  const bytes = decodePart(encoded)
  const text = bytes && decodeText(bytes)
  return text === undefined ? fail("The stored secret (unencrypted, nfs0) is malformed") : Effect.succeed(text)
}

const decryptWith = (key: Buffer, keyId: string, parts: ReadonlyArray<string>) => {
  const [, storedKeyId, ivPart, ciphertextPart, tagPart] = parts as [string, string, string, string, string]
  if (storedKeyId !== keyId) {
    return fail(
      `The stored secret was encrypted with a different key (key id ${storedKeyId}); ` +
        `the configured ENCRYPTION_KEY has key id ${keyId}`
    )
  }
  const iv = decodePart(ivPart)
  const ciphertext = decodePart(ciphertextPart)
  const tag = decodePart(tagPart)
  if (iv?.length !== ivBytes || ciphertext === undefined || tag?.length !== tagBytes) {
    return fail("The stored secret (nfs1) is malformed: truncated or not base64url")
  }
  try {
    // authTagLength pins the tag to 16 bytes; otherwise Node accepts a shortened tag.
    const decipher = Crypto.createDecipheriv("aes-256-gcm", key, iv, { authTagLength: tagBytes })
    decipher.setAAD(Buffer.from(`nfs1.${keyId}`))
    decipher.setAuthTag(tag)
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()])
    const text = decodeText(plaintext)
    return text === undefined ? fail("The stored secret (nfs1) is not UTF-8 text") : Effect.succeed(text)
  } catch {
    return fail("The stored secret (nfs1) failed authentication: it was altered or truncated")
  }
}

const make = (key: Buffer) => {
  if (key.length !== keyBytes) throw new Error(`SecretCipher needs a ${keyBytes}-byte key, got ${key.length} bytes`)
  const keyId = keyIdOf(key)

  const encrypt = (plaintext: Redacted.Redacted<string>): Effect.Effect<string> =>
    Effect.sync(() => {
      const iv = Crypto.randomBytes(ivBytes)
      const cipher = Crypto.createCipheriv("aes-256-gcm", key, iv, { authTagLength: tagBytes })
      // The header is authenticated too: a value cannot be relabelled with another version or key id.
      cipher.setAAD(Buffer.from(`nfs1.${keyId}`))
      const ciphertext = Buffer.concat([cipher.update(Buffer.from(Redacted.value(plaintext), "utf8")), cipher.final()])
      return ["nfs1", keyId, iv, ciphertext, cipher.getAuthTag()]
        .map((part) => (typeof part === "string" ? part : part.toString("base64url")))
        .join(".")
    })

  const decryptText = (stored: string): Effect.Effect<string, SecretDecryptionError> => {
    const parts = stored.split(".")
    const version = parts[0] ?? ""
    switch (version) {
      case "nfs0":
        return parts.length === 2 ? decodePlain(parts[1]!) : fail("The stored secret (nfs0) is malformed")
      case "nfs1":
        if (parts.length !== 5) return fail("The stored secret (nfs1) is malformed: it does not have five parts")
        return decryptWith(key, keyId, parts)
      default:
        // Only a version-like prefix is echoed: anything else could be a plaintext secret.
        return fail(
          /^nfs\d{1,4}$/.test(version)
            ? `The stored secret has an unknown format version (${version})`
            : "The stored secret is not in a known format (expected nfs0.… or nfs1.…)"
        )
    }
  }

  const decrypt = (stored: string): Effect.Effect<Redacted.Redacted<string>, SecretDecryptionError> =>
    Effect.map(decryptText(stored), Redacted.make)

  return { encrypt, decrypt } as const
}

export class SecretCipher extends Effect.Service<SecretCipher>()("@nestfleet/core/SecretCipher", {
  effect: Effect.map(ServerKeys, (keys) => make(Redacted.value(keys.encryptionKey))),
  dependencies: [ServerKeys.Default]
}) {
  /** A cipher with a given 32-byte key, for tests and tools. */
  static readonly fromKey = (key: Buffer): SecretCipher => new SecretCipher(make(key))

  /**
   * The cipher of a process that signs no tokens (the worker): its key from where
   * `ServerKeys` takes it, with ENCRYPTION_KEY alone required against a server. A process
   * that runs the API too uses `Default`, so that both hold the one key.
   */
  static readonly EncryptionKeyOnly: Layer.Layer<SecretCipher, ConfigError.ConfigError | DataDirSecretError, Database> =
    Layer.effect(SecretCipher, Effect.map(resolveEncryptionKey, (key) => new SecretCipher(make(key))))
}
