import { expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Option } from "effect"
import { makeTestLayer } from "../src/testing/TestLayer.js"

class Greeter extends Context.Tag("Greeter")<Greeter, {
  readonly greet: (name: string) => Effect.Effect<string>
  readonly farewell: (name: string) => Effect.Effect<string>
  readonly count: Effect.Effect<number>
}>() {}

const layer = makeTestLayer(Greeter)({ greet: (name) => Effect.succeed(`hello ${name}`) })

const defectOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

it.effect("answers the members a test gives", () =>
  Effect.gen(function*() {
    const greeter = yield* Greeter
    expect(yield* greeter.greet("Ada")).toBe("hello Ada")
  }).pipe(Effect.provide(layer)))

it.effect("a member nobody stubbed dies naming itself, called or run as an Effect", () =>
  Effect.gen(function*() {
    const greeter = yield* Greeter
    expect(defectOf(yield* Effect.exit(greeter.farewell("Ada")))).toBe("Greeter.farewell is not stubbed in this test")
    expect(defectOf(yield* Effect.exit(greeter.count))).toBe("Greeter.count is not stubbed in this test")
  }).pipe(Effect.provide(layer)))
