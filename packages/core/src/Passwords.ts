/**
 * Password hashing with scrypt: memory-hard, so guessing at scale costs memory as well as
 * time, and built into Node, so there is no native add-on to build. Each hash carries its
 * parameters (`scrypt$N=32768,r=8,p=1$<salt>$<hash>`): they can be raised later, old hashes
 * still verify, and `needsRehash` says when to upgrade one at the next successful login.
 */
import { Effect, Redacted } from "effect"
import * as Crypto from "node:crypto"

/** The password policy, as the domain states it (the HTTP schemas enforce it). */
export { passwordMaxLength as maximumLength, passwordMinLength as minimumLength } from "@nestfleet/domain/Users"

interface Parameters {
  readonly N: number
  readonly r: number
  readonly p: number
}

/** OWASP's scrypt recommendation at the time of writing: about 32 MiB and tens of ms per hash. */
const current: Parameters = { N: 32768, r: 8, p: 1 }
const saltBytes = 16
const keyBytes = 64

/**
 * Bounds on what a stored hash may ask for. The stored string is ours, but a corrupted or
 * planted row must not make a login allocate gigabytes or spin for minutes.
 */
const maxMemoryBytes = 256 * 1024 * 1024
const isSane = ({ N, p, r }: Parameters) =>
  N > 1 && N <= 2 ** 20 && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16 &&
  128 * N * r <= maxMemoryBytes

interface Parsed extends Parameters {
  readonly salt: Buffer
  readonly hash: Buffer
}

const base64 = /^[A-Za-z0-9+/]+={0,2}$/
const format = /^scrypt\$N=(\d{1,8}),r=(\d{1,3}),p=(\d{1,3})\$([^$]+)\$([^$]+)$/

const parse = (stored: string): Parsed | undefined => {
  const match = format.exec(stored)
  if (match === null) return undefined
  const [, N, r, p, salt, hash] = match as unknown as [string, string, string, string, string, string]
  const parameters = { N: Number(N), r: Number(r), p: Number(p) }
  if (!isSane(parameters) || !base64.test(salt) || !base64.test(hash)) return undefined
  const parsed = { ...parameters, salt: Buffer.from(salt, "base64"), hash: Buffer.from(hash, "base64") }
  return parsed.salt.length >= 8 && parsed.hash.length >= 16 && parsed.hash.length <= 128 ? parsed : undefined
}

const serialize = ({ N, hash, p, r, salt }: Parsed) =>
  `scrypt$N=${N},r=${r},p=${p}$${salt.toString("base64")}$${hash.toString("base64")}`

/**
 * NFKC so that the same password typed on another keyboard or OS (composed vs decomposed
 * accents, full-width digits) still matches, as NIST SP 800-63B recommends.
 */
const normalize = (password: Redacted.Redacted<string>) => Redacted.value(password).normalize("NFKC")

/** The async scrypt, so hashing runs on the libuv pool rather than blocking the event loop. */
const scrypt = (password: string, salt: Buffer, keyLength: number, { N, p, r }: Parameters) =>
  Effect.async<Buffer, Error>((resume) => {
    try {
      // maxmem above the 128·N·r the parameters need: Node's default (32 MiB) is exactly our
      // current need and leaves no room for its own overhead.
      Crypto.scrypt(password, salt, keyLength, { N, r, p, maxmem: 128 * N * r * 2 }, (error, key) =>
        resume(error ? Effect.fail(error) : Effect.succeed(key)))
    } catch (error) {
      // Invalid parameters throw synchronously rather than reaching the callback.
      resume(Effect.fail(error as Error))
    }
  })

const verifyParsed = (password: Redacted.Redacted<string>, parsed: Parsed) =>
  scrypt(normalize(password), parsed.salt, parsed.hash.length, parsed).pipe(
    Effect.map((key) => Crypto.timingSafeEqual(key, parsed.hash)),
    Effect.orElseSucceed(() => false)
  )

export class Passwords extends Effect.Service<Passwords>()("@nestfleet/core/Passwords", {
  sync: () => {
    const hash = Effect.fn("Passwords.hash")(function*(password: Redacted.Redacted<string>) {
      const salt = Crypto.randomBytes(saltBytes)
      const key = yield* Effect.orDie(scrypt(normalize(password), salt, keyBytes, current))
      return serialize({ ...current, salt, hash: key })
    })

    /** `false` for a wrong password and for a stored value that is not a hash we can read. */
    const verify = Effect.fn("Passwords.verify")(function*(password: Redacted.Redacted<string>, stored: string) {
      const parsed = parse(stored)
      return parsed === undefined ? false : yield* verifyParsed(password, parsed)
    })

    // A hash of no password at all, with the current parameters: verifying against it costs
    // what verifying a real account costs. Random bytes rather than a real scrypt output,
    // since nothing is ever meant to match it; made when the service is, not per call.
    const nothing: Parsed = { ...current, salt: Crypto.randomBytes(saltBytes), hash: Crypto.randomBytes(keyBytes) }

    /**
     * For a login with an unknown email: takes as long as checking a password, so response
     * times do not tell which emails have accounts.
     */
    const verifyAgainstNothing = Effect.fn("Passwords.verifyAgainstNothing")(
      function*(password: Redacted.Redacted<string>) {
        yield* verifyParsed(password, nothing)
        return false as const
      }
    )

    /** Whether `stored` was made with other parameters than today's (or cannot be read). */
    const needsRehash = (stored: string): boolean => {
      const parsed = parse(stored)
      return parsed === undefined || parsed.N !== current.N || parsed.r !== current.r || parsed.p !== current.p ||
        parsed.salt.length !== saltBytes || parsed.hash.length !== keyBytes
    }

    return { hash, verify, verifyAgainstNothing, needsRehash } as const
  }
}) {}
