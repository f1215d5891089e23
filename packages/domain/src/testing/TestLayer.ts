/**
 * Partial test doubles of services, as in Effect's own examples (`makeTestLayer`): a layer
 * for `tag` holding only the members a test gives. Any other method or Effect member dies
 * when used, naming itself, so a test never passes because a double answered something
 * nobody scripted. A member that is a plain value (a flag such as `SecretCipher.encrypting`)
 * cannot die when read: a double the code under test reads one from must give it.
 *
 *   const repo = makeTestLayer(CasesRepo)({ findById: () => Effect.succeed(Option.some(row)) })
 */
import { Context, Effect, Layer } from "effect"

/** A member nobody stubbed: calling it, or running it as an Effect, dies with its name. */
const unimplemented = (service: string, member: PropertyKey) => {
  const dead = Effect.die(`${service}.${String(member)} is not stubbed in this test`)
  // Both shapes a member may have: a method returning an Effect, or an Effect itself.
  const method = () => dead
  Object.assign(method, dead)
  Object.setPrototypeOf(method, Object.getPrototypeOf(dead))
  return method
}

/** `implementation` with every missing member answering `unimplemented`. */
const makeUnimplementedProxy = <A extends object>(service: string, implementation: Partial<A>): A =>
  new Proxy({ ...implementation } as A, {
    get(target, member, receiver) {
      if (member in target) return Reflect.get(target, member, receiver)
      // Effect and test tooling probe for these; answering them keeps the double inert.
      if (typeof member === "symbol" || member === "then" || member === "toJSON") return undefined
      return unimplemented(service, member)
    }
  })

export const makeTestLayer = <I, S extends object>(tag: Context.Tag<I, S>) => (implementation: Partial<S>): Layer.Layer<I> =>
  Layer.succeed(tag, makeUnimplementedProxy(tag.key, implementation))
