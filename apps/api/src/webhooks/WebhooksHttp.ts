import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Ingestion } from "@nestfleet/core/Ingestion"
import { NestFleetApi } from "@nestfleet/domain/Api"
import { Effect } from "effect"
import { rawBody } from "../http/RawBody.js"
import { HttpConfig } from "../HttpConfig.js"

export const WebhooksHttpLive = HttpApiBuilder.group(NestFleetApi, "webhooks", (handlers) =>
  Effect.gen(function*() {
    const ingestion = yield* Ingestion
    const readBody = rawBody((yield* HttpConfig).maxBodyBytes)
    return handlers.handle("deliver", ({ path }) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        return yield* ingestion.deliver(path.channelId, request.headers, yield* readBody)
      }))
  }))
