/**
 * Where channels deliver messages. Public, because a channel authenticates by signing
 * each request with its secret; the signature is checked on the raw body before anything
 * is parsed or written.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Public } from "./Access.js"
import { CaseId, MessageId } from "./Cases.js"

export class WebhookAccepted extends Schema.Class<WebhookAccepted>("WebhookAccepted")({
  caseId: CaseId,
  messageId: MessageId,
  duplicate: Schema.Literal(false)
}) {}

export class WebhookDuplicate extends Schema.Class<WebhookDuplicate>("WebhookDuplicate")({
  caseId: CaseId,
  messageId: MessageId,
  duplicate: Schema.Literal(true)
}) {}

/** A delivery that asks for no case: a GitHub ping, an event we do not act on. */
export class WebhookAcknowledged extends Schema.Class<WebhookAcknowledged>("WebhookAcknowledged")({
  ok: Schema.Literal(true),
  ignored: Schema.optional(Schema.String)
}) {}

/** Slack's `url_verification`: the challenge, answered back. */
export class SlackChallenge extends Schema.Class<SlackChallenge>("SlackChallenge")({
  challenge: Schema.String
}) {}

export class WebhookSignatureInvalid extends Schema.TaggedError<WebhookSignatureInvalid>()(
  "WebhookSignatureInvalid",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401, description: "The signature is missing, wrong or stale." })
) {}

export class WebhookChannelNotFound extends Schema.TaggedError<WebhookChannelNotFound>()(
  "WebhookChannelNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404, description: "No enabled channel has this id." })
) {}

export class WebhookPayloadInvalid extends Schema.TaggedError<WebhookPayloadInvalid>()(
  "WebhookPayloadInvalid",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400, description: "The body is not what this channel type sends." })
) {}

export class WebhooksApi extends HttpApiGroup.make("webhooks")
  .add(
    HttpApiEndpoint.post("deliver", "/webhooks/:channelId")
      .setPath(Schema.Struct({ channelId: Schema.String }))
      .addSuccess(WebhookAccepted, { status: 202 })
      .addSuccess(WebhookDuplicate)
      .addSuccess(Schema.Union(WebhookAcknowledged, SlackChallenge))
      .addError(WebhookSignatureInvalid)
      .addError(WebhookChannelNotFound)
      .addError(WebhookPayloadInvalid)
      .annotate(
        OpenApi.Description,
        "The raw body, signed per channel type: Standard Webhooks (webhook, email), X-Hub-Signature-256 (github), " +
          "X-Slack-Signature (slack). 202 for a new message, 200 for a redelivery."
      )
  )
  .annotate(Public, true)
  .annotate(OpenApi.Title, "Webhooks")
{}
