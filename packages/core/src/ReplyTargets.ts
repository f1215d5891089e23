/**
 * Sending a reply back through the channel the customer wrote on: one target per channel
 * type (ReplyTarget says what a target is given and answers).
 *
 * Tests swap this service (`makeTestLayer(ReplyTargets)`) to drive the delivery step alone.
 */
import { HttpClient } from "@effect/platform"
import { Effect } from "effect"
import type { DeliveryFailed, Outgoing, Receipt } from "./ReplyTarget.js"
import * as EmailReplyTarget from "./EmailReplyTarget.js"
import * as GitHubReplyTarget from "./GitHubReplyTarget.js"
import * as SlackReplyTarget from "./SlackReplyTarget.js"
import * as WebhookReplyTarget from "./WebhookReplyTarget.js"

export class ReplyTargets extends Effect.Service<ReplyTargets>()("@nestfleet/core/ReplyTargets", {
  effect: Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient

    const send = (outgoing: Outgoing): Effect.Effect<Receipt, DeliveryFailed> => {
      switch (outgoing.channel.type) {
        case "webhook":
          return WebhookReplyTarget.send(http, outgoing)
        case "github":
          return GitHubReplyTarget.send(http, outgoing)
        case "slack":
          return SlackReplyTarget.send(http, outgoing)
        case "email":
          return EmailReplyTarget.send(outgoing)
      }
    }

    return { send } as const
  })
}) {}
