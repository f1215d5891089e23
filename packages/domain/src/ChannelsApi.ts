/**
 * A product's channels. Admins create, change, rotate and disable them; everyone may list
 * them. The signing secret is answered twice only: at creation and at rotation.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { RequireAdmin, RequireViewer } from "./Access.js"
import { Channel, ChannelConfig, ChannelId, ChannelName, ChannelType, ChannelWithSecret, ReplySecret } from "./Channels.js"
import { ProductId } from "./Products.js"
import { ProductNotFound } from "./ProductsApi.js"

/**
 * A signing secret chosen elsewhere: Slack generates its app's signing secret, so a Slack
 * channel is given it. Other types get one generated when none is given.
 */
const GivenSecret = Schema.Redacted(
  Schema.String.pipe(
    Schema.minLength(16, { message: () => "A signing secret needs at least 16 characters" }),
    Schema.maxLength(512, { message: () => "A signing secret is at most 512 characters" })
  )
)

export class NewChannel extends Schema.Class<NewChannel>("NewChannel")({
  type: ChannelType,
  name: ChannelName,
  config: Schema.optionalWith(ChannelConfig, { default: () => ({}) }),
  secret: Schema.optional(GivenSecret),
  replySecret: Schema.optional(ReplySecret)
}) {}

export class ChannelChanges extends Schema.Class<ChannelChanges>("ChannelChanges")({
  name: Schema.optional(ChannelName),
  enabled: Schema.optional(Schema.Boolean),
  config: Schema.optional(ChannelConfig),
  /** A new reply secret, or null to remove it. */
  replySecret: Schema.optional(Schema.NullOr(ReplySecret))
}) {}

export class SecretRotation extends Schema.Class<SecretRotation>("SecretRotation")({
  secret: Schema.optional(GivenSecret)
}) {}

export class ChannelList extends Schema.Class<ChannelList>("ChannelList")({
  items: Schema.Array(Channel)
}) {}

export class ChannelNotFound extends Schema.TaggedError<ChannelNotFound>()(
  "ChannelNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404, description: "No channel has this id." })
) {}

export class SecretRequired extends Schema.TaggedError<SecretRequired>()(
  "SecretRequired",
  { message: Schema.String },
  HttpApiSchema.annotations({
    status: 400,
    description: "Slack channels take the Slack app's signing secret; a given secret must be usable for the type."
  })
) {}

const ProductChannelsPath = Schema.Struct({ productId: ProductId })
const ChannelPath = Schema.Struct({ id: ChannelId })

export class ChannelsApi extends HttpApiGroup.make("channels")
  .add(
    HttpApiEndpoint.get("list", "/products/:productId/channels")
      .setPath(ProductChannelsPath)
      .addSuccess(ChannelList)
      .addError(ProductNotFound)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "A product's channels, without their secrets")
  )
  .add(
    HttpApiEndpoint.post("create", "/products/:productId/channels")
      .setPath(ProductChannelsPath)
      .setPayload(NewChannel)
      .addSuccess(ChannelWithSecret, { status: 201 })
      .addError(ProductNotFound)
      .addError(SecretRequired)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Summary, "Add a channel; the answer holds its signing secret, shown only now")
  )
  .add(
    HttpApiEndpoint.patch("update", "/channels/:id")
      .setPath(ChannelPath)
      .setPayload(ChannelChanges)
      .addSuccess(Channel)
      .addError(ChannelNotFound)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Summary, "Rename, enable or disable, or change the config")
  )
  .add(
    HttpApiEndpoint.del("disable", "/channels/:id")
      .setPath(ChannelPath)
      .addSuccess(Channel)
      .addError(ChannelNotFound)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Summary, "Disable a channel; its cases and messages stay")
  )
  .add(
    HttpApiEndpoint.post("rotateSecret", "/channels/:id/rotate-secret")
      .setPath(ChannelPath)
      .setPayload(SecretRotation)
      .addSuccess(ChannelWithSecret)
      .addError(ChannelNotFound)
      .addError(SecretRequired)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Summary, "A new signing secret, shown only now; the old one stops working")
  )
  .annotate(OpenApi.Title, "Channels")
{}
