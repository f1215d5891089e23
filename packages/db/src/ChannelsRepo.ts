/** Channels. The signing secret is stored as core/SecretCipher hands it over. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { ChannelId, ChannelType } from "@nestfleet/domain/Channels"
import { ProductId } from "@nestfleet/domain/Products"
import { Effect, Schema } from "effect"

const Config = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** The NOTIFY topic on which a changed channel's id is announced, when the change commits. */
export const changesTopic = "nestfleet_channel_changed"

export class ChannelRow extends Schema.Class<ChannelRow>("ChannelRow")({
  id: ChannelId,
  productId: ProductId,
  type: ChannelType,
  name: Schema.String,
  config: Config,
  /** The stored form (encrypted with a key configured); never leaves the server. */
  secret: Schema.String,
  /** The stored form of the secret replies are sent with, if set; never leaves the server. */
  replySecret: Schema.NullOr(Schema.String),
  enabled: Schema.Boolean,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf
}) {}

export class ChannelsRepo extends Effect.Service<ChannelsRepo>()("@nestfleet/db/ChannelsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const listOfProduct = SqlSchema.findAll({
      Request: ProductId,
      Result: ChannelRow,
      execute: (productId) => sql`select * from channels where product_id = ${productId} order by created_at, id`
    })

    const findById = SqlSchema.findOne({
      Request: ChannelId,
      Result: ChannelRow,
      execute: (id) => sql`select * from channels where id = ${id}`
    })

    const insert = SqlSchema.single({
      Request: Schema.Struct({
        productId: ProductId,
        type: ChannelType,
        name: Schema.String,
        config: Config,
        secret: Schema.String,
        replySecret: Schema.optional(Schema.NullOr(Schema.String))
      }),
      Result: ChannelRow,
      execute: ({ config, name, productId, replySecret, secret, type }) =>
        sql`
          insert into channels (product_id, type, name, config, secret, reply_secret)
          values (${productId}, ${type}, ${name}, ${JSON.stringify(config)}::jsonb, ${secret}, ${replySecret ?? null})
          returning *`
    })

    const update = SqlSchema.findOne({
      Request: Schema.Struct({
        id: ChannelId,
        name: Schema.optional(Schema.String),
        enabled: Schema.optional(Schema.Boolean),
        config: Schema.optional(Config),
        secret: Schema.optional(Schema.String),
        /** The stored form of a new reply secret, or null to remove it. */
        replySecret: Schema.optional(Schema.NullOr(Schema.String))
      }),
      Result: ChannelRow,
      execute: ({ config, enabled, id, name, replySecret, secret }) =>
        // The change and its announcement are one statement: NOTIFY is sent when it commits.
        sql`
          with changed as (
            update channels set
              name = coalesce(${name ?? null}::text, name),
              enabled = coalesce(${enabled ?? null}::boolean, enabled),
              config = coalesce(${config === undefined ? null : JSON.stringify(config)}::jsonb, config),
              secret = coalesce(${secret ?? null}::text, secret),
              reply_secret = case when ${replySecret !== undefined} then ${replySecret ?? null}::text else reply_secret end,
              updated_at = now()
            where id = ${id}
            returning *
          )
          select changed.*, pg_notify(${changesTopic}, changed.id::text) as announced from changed`
    })

    const secretsStartingWith = SqlSchema.findAll({
      Request: Schema.String,
      Result: Schema.Struct({ id: ChannelId, secret: Schema.String }),
      execute: (prefix) => sql`select id, secret from channels where starts_with(secret, ${prefix}) order by id`
    })

    /** Replaces a stored secret only if it is still `from`: a rotation in between wins. */
    const replaceSecret = (change: { readonly id: ChannelId; readonly from: string; readonly to: string }) =>
      Effect.map(
        sql`update channels set secret = ${change.to} where id = ${change.id} and secret = ${change.from} returning id`,
        (rows) => rows.length === 1
      )

    return { listOfProduct, findById, insert, update, secretsStartingWith, replaceSecret } as const
  })
}) {}
