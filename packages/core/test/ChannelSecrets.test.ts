/**
 * A channel's signing secret, as rules: Channels over test doubles — a `ChannelsRepo`
 * double that keeps channels in memory, one product, no change announcements — with a
 * real `SecretCipher` on a test key. (Channels on a real database, across processes, are in
 * Channels.test.ts.)
 */
import { expect, it } from "@effect/vitest"
import { ChannelRow, ChannelsRepo } from "@nestfleet/db/ChannelsRepo"
import { Notifications } from "@nestfleet/db/Notifications"
import { ChannelId } from "@nestfleet/domain/Channels"
import { NewChannel } from "@nestfleet/domain/ChannelsApi"
import { Product, ProductId, ProductSettings } from "@nestfleet/domain/Products"
import { makeTestLayer } from "@nestfleet/domain/testing/TestLayer"
import { Effect, Exit, Layer, Option, Redacted } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { Channels } from "../src/Channels.js"
import { Products } from "../src/Products.js"
import { SecretCipher } from "../src/SecretCipher.js"

const cipher = SecretCipher.fromKey(randomBytes(32))
const product = new Product({
  id: ProductId.make("5a0f3c1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b"),
  name: "Acme",
  slug: "acme",
  settings: ProductSettings.defaults,
  createdAt: new Date(0),
  updatedAt: new Date(0)
})

/** Channels over doubles; `stored` is what the repository was given, as it keeps it. */
const channelsOverDoubles = () => {
  const stored = new Map<ChannelId, ChannelRow>()
  const layer = Channels.DefaultWithoutDependencies.pipe(Layer.provide([
    makeTestLayer(ChannelsRepo)({
      secretsStartingWith: () => Effect.succeed([]),
      insert: (input) =>
        Effect.sync(() => {
          const row = new ChannelRow({
            ...input,
            replySecret: input.replySecret ?? null,
            id: ChannelId.make(randomUUID()),
            enabled: true,
            createdAt: new Date(0),
            updatedAt: new Date(0)
          })
          stored.set(row.id, row)
          return row
        }),
      findById: (id) => Effect.sync(() => Option.fromNullable(stored.get(id))),
      update: ({ id, ...changes }) =>
        Effect.sync(() => {
          const row = stored.get(id)
          if (row === undefined) return Option.none()
          const given = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined))
          stored.set(id, new ChannelRow({ ...row, ...given }))
          return Option.some(stored.get(id)!)
        })
    }),
    makeTestLayer(Products)({ get: () => Effect.succeed(product) }),
    makeTestLayer(Notifications)({ listen: () => Effect.void }),
    Layer.succeed(SecretCipher, cipher)
  ]))
  return { layer, stored }
}

const create = (input: ConstructorParameters<typeof NewChannel>[0]) =>
  Effect.flatMap(Channels, (channels) => channels.create(product.id, new NewChannel(input)))

const refusal = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return expect.fail("expected the secret to be refused")
    return exit.cause
  })

it.effect("a Slack channel is refused without the Slack app's signing secret, and nothing is stored", () => {
  const { layer, stored } = channelsOverDoubles()
  return Effect.gen(function*() {
    const cause = yield* refusal(create({ type: "slack", name: "Support" }))
    expect(cause).toMatchObject({ _tag: "Fail", error: { _tag: "SecretRequired", message: expect.stringContaining("Slack") } })
    expect(stored.size).toBe(0)

    const given = "8f742231b10e8888abcd99yyyzzz85a5"
    const { channel, secret } = yield* create({ type: "slack", name: "Support", secret: Redacted.make(given) })
    expect(Redacted.value(secret)).toBe(given)
    // A rotation must be given Slack's new secret too: none is made up.
    const rotation = yield* refusal(Effect.flatMap(Channels, (channels) => channels.rotateSecret(channel.id, undefined)))
    expect(rotation).toMatchObject({ _tag: "Fail", error: { _tag: "SecretRequired" } })
  }).pipe(Effect.provide(layer))
})

it.effect("a webhook or email secret must be a Standard Webhooks key: another is refused, a key is stored encrypted", () => {
  const { layer, stored } = channelsOverDoubles()
  return Effect.gen(function*() {
    for (const type of ["webhook", "email"] as const) {
      const cause = yield* refusal(create({ type, name: "Own secret", secret: Redacted.make("my-own-secret-value-123") }))
      expect(cause).toMatchObject({ _tag: "Fail", error: { _tag: "SecretRequired", message: expect.stringContaining("whsec_") } })
    }
    expect(stored.size).toBe(0)

    const key = `whsec_${randomBytes(32).toString("base64")}`
    const { channel } = yield* create({ type: "webhook", name: "Own key", secret: Redacted.make(key) })
    const atRest = stored.get(channel.id)!.secret
    expect(atRest).toMatch(/^nfs1\./)
    expect(atRest).not.toContain(key.slice(6, 20))
    expect(Redacted.value(yield* cipher.decrypt(atRest))).toBe(key)
  }).pipe(Effect.provide(layer))
})

it.effect("given none, a webhook channel gets a new Standard Webhooks key and a GitHub one a hex secret, each new on rotation", () => {
  const { layer } = channelsOverDoubles()
  return Effect.gen(function*() {
    const webhook = yield* create({ type: "webhook", name: "Site" })
    expect(Redacted.value(webhook.secret)).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    const github = yield* create({ type: "github", name: "Issues" })
    expect(Redacted.value(github.secret)).toMatch(/^[0-9a-f]{64}$/)
    const rotated = yield* Effect.flatMap(Channels, (channels) => channels.rotateSecret(github.channel.id, undefined))
    expect(Redacted.value(rotated.secret)).toMatch(/^[0-9a-f]{64}$/)
    expect(Redacted.value(rotated.secret)).not.toBe(Redacted.value(github.secret))
  }).pipe(Effect.provide(layer))
})
