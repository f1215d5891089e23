/**
 * Refresh tokens: 256 random bits, handed to the browser in a cookie. Only their SHA-256
 * is stored — a database dump does not hold a usable token, and being random, they need no
 * salt or slow hash.
 */
import { Redacted } from "effect"
import { createHash, randomBytes } from "node:crypto"

export const lifetimeSeconds = 30 * 24 * 60 * 60

export const generate = (): Redacted.Redacted<string> => Redacted.make(randomBytes(32).toString("base64url"))

export const hash = (token: Redacted.Redacted<string>): Uint8Array =>
  createHash("sha256").update(Redacted.value(token)).digest()

/** A well-formed token (43 base64url characters) is worth a database lookup; anything else is not. */
export const isWellFormed = (token: string): boolean => /^[A-Za-z0-9_-]{43}$/.test(token)
