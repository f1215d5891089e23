/** Channels: where a product's messages come from, each with its own signing secret. */
import { Schema } from "effect"
import { jsonDocument, noNul } from "./Text.js"
import { ProductId } from "./Products.js"

export const ChannelId = Schema.UUID.pipe(Schema.brand("ChannelId"))
export type ChannelId = typeof ChannelId.Type

export const ChannelType = Schema.Literal("webhook", "email", "github", "slack").pipe(
  Schema.annotations({
    description: "webhook: generic JSON; email: inbound email as JSON; github: issues webhooks; slack: Events API."
  })
)
export type ChannelType = typeof ChannelType.Type

export const ChannelName = Schema.Trim.pipe(
  noNul,
  Schema.minLength(1, { message: () => "A name cannot be empty" }),
  Schema.maxLength(200, { message: () => "A name is at most 200 characters" })
)

/** Free-form settings of a channel (a repository, a Slack channel…); small, and never secret. */
export const ChannelConfig = jsonDocument({ name: "A channel's config", maxDepth: 10, maxLength: 10_000 })

export class Channel extends Schema.Class<Channel>("Channel")({
  id: ChannelId,
  productId: ProductId,
  type: ChannelType,
  name: Schema.String,
  config: ChannelConfig,
  enabled: Schema.Boolean,
  /** Whether the secret replies are sent with is set (it is never answered). */
  replySecretSet: Schema.Boolean,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}

/**
 * What replies through the channel are sent with: a GitHub token (issue comments), a Slack bot
 * token (chat.postMessage), or the SMTP password. Write-only.
 */
export const ReplySecret = Schema.Redacted(
  Schema.String.pipe(
    noNul,
    Schema.minLength(1, { message: () => "A reply secret cannot be empty" }),
    Schema.maxLength(4096, { message: () => "A reply secret is at most 4096 characters" })
  )
)

/** A channel with its signing secret: answered at creation and rotation only. */
export class ChannelWithSecret extends Schema.Class<ChannelWithSecret>("ChannelWithSecret")({
  channel: Channel,
  secret: Schema.Redacted(Schema.String)
}) {}
