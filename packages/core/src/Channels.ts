/**
 * A product's channels and their signing secrets. A secret is stored through the secret
 * cipher and answered to the admin twice only: when the channel is made and when the
 * secret is rotated.
 *
 * To run it over test doubles, as `packages/core/test/ChannelSecrets.test.ts` does for the
 * secret rules: `Channels.DefaultWithoutDependencies` over `makeTestLayer(ChannelsRepo)({ … })`
 * (`secretsStartingWith` is read at start), `makeTestLayer(Products)({ get })`,
 * `makeTestLayer(Notifications)({ listen })` (from `@nestfleet/domain/testing/TestLayer`) and
 * `Layer.succeed(SecretCipher, SecretCipher.fromKey(key))`.
 */
import { type ChannelRow, ChannelsRepo, changesTopic } from "@nestfleet/db/ChannelsRepo"
import { Notifications } from "@nestfleet/db/Notifications"
import { Channel, type ChannelId, ChannelWithSecret } from "@nestfleet/domain/Channels"
import {
  type ChannelChanges,
  ChannelList,
  ChannelNotFound,
  type NewChannel,
  SecretRequired
} from "@nestfleet/domain/ChannelsApi"
import type { ProductId } from "@nestfleet/domain/Products"
import { Duration, Effect, Either, Option, type Redacted } from "effect"
import { Products } from "./Products.js"
import { SecretCipher, storedInTheClear } from "./SecretCipher.js"
import * as TimedCache from "./TimedCache.js"
import { orDieUnexpected } from "./Unexpected.js"
import * as WebhookSignatures from "./WebhookSignatures.js"

const toChannel = ({ replySecret, secret: _, ...row }: ChannelRow) => new Channel({ ...row, replySecretSet: replySecret !== null })

/**
 * How long a channel is kept for deliveries. A change is announced to every API process when
 * it commits, and each forgets the channel then; this bounds how long a process that missed
 * the announcement (its LISTEN connection down) may go on seeing the channel as it was.
 */
export const deliveryCacheTimeToLive = Duration.seconds(5)

const channelNotFound = (id: string) => new ChannelNotFound({ message: `No channel has the id ${id}` })

const secretRequired = new SecretRequired({
  message: "A Slack channel needs the Slack app's signing secret (Basic Information → Signing Secret) as `secret`"
})

const unusableSecret = new SecretRequired({
  message: "A webhook or email channel's secret is a Standard Webhooks key: whsec_ followed by base64 (or leave it out)"
})

export class Channels extends Effect.Service<Channels>()("@nestfleet/core/Channels", {
  scoped: Effect.gen(function*() {
    const repo = yield* ChannelsRepo
    const products = yield* Products
    const cipher = yield* SecretCipher
    const notifications = yield* Notifications

    /** The given secret, or a new one for the channel's type. */
    const secretFor = (type: NewChannel["type"], given: Redacted.Redacted<string> | undefined) =>
      given !== undefined
        ? WebhookSignatures.isUsableSecret(type, given) ? Effect.succeed(given) : Effect.fail(unusableSecret)
        : type === "slack"
        ? Effect.fail(secretRequired)
        : Effect.succeed(WebhookSignatures.generateSecret(type))

    const find = (id: ChannelId) =>
      Effect.flatMap(repo.findById(id), Option.match({
        onNone: () => Effect.fail(channelNotFound(id)),
        onSome: Effect.succeed
      }))

    const list = Effect.fn("Channels.list")(function*(productId: ProductId) {
      yield* products.get(productId)
      return new ChannelList({ items: (yield* repo.listOfProduct(productId)).map(toChannel) })
    }, orDieUnexpected)

    const create = Effect.fn("Channels.create")(function*(productId: ProductId, input: NewChannel) {
      yield* products.get(productId)
      const secret = yield* secretFor(input.type, input.secret)
      const row = yield* repo.insert({
        productId,
        type: input.type,
        name: input.name,
        config: input.config,
        secret: yield* cipher.encrypt(secret),
        replySecret: input.replySecret === undefined ? null : yield* cipher.encrypt(input.replySecret)
      })
      yield* Effect.logInfo("Channel created").pipe(Effect.annotateLogs({ channelId: row.id, type: row.type }))
      return new ChannelWithSecret({ channel: toChannel(row), secret })
    }, orDieUnexpected)

    const update = Effect.fn("Channels.update")(function*(id: ChannelId, changes: ChannelChanges) {
      const { replySecret, ...others } = changes
      const row = yield* repo.update({
        id,
        ...others,
        ...(replySecret === undefined ? {} : { replySecret: replySecret === null ? null : yield* cipher.encrypt(replySecret) })
      })
      yield* forget(id)
      if (Option.isNone(row)) return yield* channelNotFound(id)
      return toChannel(row.value)
    }, orDieUnexpected)

    const disable = (id: ChannelId) => update(id, { enabled: false })

    const rotateSecret = Effect.fn("Channels.rotateSecret")(
      function*(id: ChannelId, given: Redacted.Redacted<string> | undefined) {
        const current = yield* find(id)
        const secret = yield* secretFor(current.type, given)
        const row = yield* repo.update({ id, secret: yield* cipher.encrypt(secret) })
        yield* forget(id)
        if (Option.isNone(row)) return yield* channelNotFound(id)
        yield* Effect.logInfo("Channel secret rotated").pipe(Effect.annotateLogs({ channelId: id }))
        return new ChannelWithSecret({ channel: toChannel(row.value), secret })
      },
      orDieUnexpected
    )

    /**
     * Secrets an earlier version stored in the clear (on a server without ENCRYPTION_KEY,
     * before one was required) are encrypted at start, once a key is there.
     */
    const encryptSecretsStoredInTheClear = Effect.gen(function*() {
      let encrypted = 0
      for (const { id, secret } of yield* repo.secretsStartingWith(storedInTheClear)) {
        const plaintext = yield* Effect.either(cipher.decrypt(secret))
        if (Either.isLeft(plaintext)) {
          // Left as it is: deliveries to the channel fail the same way until its secret is rotated.
          yield* Effect.logWarning("A channel's stored secret cannot be read; rotate it").pipe(
            Effect.annotateLogs({ channelId: id, reason: plaintext.left.message })
          )
          continue
        }
        if (yield* repo.replaceSecret({ id, from: secret, to: yield* cipher.encrypt(plaintext.right) })) encrypted++
      }
      if (encrypted > 0) {
        yield* Effect.logInfo("Encrypted channel secrets stored in the clear").pipe(Effect.annotateLogs("channels", encrypted))
      }
    }).pipe(orDieUnexpected)

    const loadForDelivery = (id: ChannelId) =>
      Effect.gen(function*() {
        const row = yield* repo.findById(id)
        if (Option.isNone(row) || !row.value.enabled) return Option.none()
        const secret = yield* cipher.decrypt(row.value.secret).pipe(Effect.orDie)
        return Option.some({ channel: row.value, secret })
      }).pipe(orDieUnexpected)

    /**
     * Channels as deliveries see them, kept for a few seconds: every delivery needs its
     * channel and decrypted secret, and they rarely change. A change made through any API
     * process applies in every one as soon as it commits: the update announces it (see
     * `ChannelsRepo.update`), and this process forgets the channel, as it does at once for
     * a change of its own.
     */
    const deliveryCache = yield* TimedCache.make({
      capacity: 10_000,
      timeToLive: deliveryCacheTimeToLive,
      lookup: loadForDelivery
    })
    const forget = (id: ChannelId) => deliveryCache.invalidate(id)
    yield* encryptSecretsStoredInTheClear
    yield* notifications.listen(changesTopic, {
      onNotification: (id) => deliveryCache.invalidate(id as ChannelId),
      onSubscribed: deliveryCache.invalidateAll
    })

    /** An enabled channel and its secret in the clear, for checking a delivery; none otherwise. */
    const forDelivery = (id: ChannelId) => deliveryCache.get(id)

    return { list, create, update, disable, rotateSecret, forDelivery } as const
  }),
  dependencies: [ChannelsRepo.Default, Products.Default, Notifications.Default]
}) {}
