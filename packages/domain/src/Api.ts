import { HttpApi, OpenApi } from "@effect/platform"
import { AiSettingsApi } from "./AiSettingsApi.js"
import { AuthApi, SessionApi } from "./AuthApi.js"
import { CasesApi } from "./CasesApi.js"
import { ChangePrepsApi } from "./ChangePrepsApi.js"
import { ChannelsApi } from "./ChannelsApi.js"
import { DraftsApi } from "./DraftsApi.js"
import { InternalServerError, PayloadTooLarge, UnsupportedMediaType } from "./Errors.js"
import { HealthApi } from "./HealthApi.js"
import { KnowledgeApi } from "./KnowledgeApi.js"
import { ProductsApi } from "./ProductsApi.js"
import { UsersApi } from "./UsersApi.js"
import { WebhooksApi } from "./WebhooksApi.js"

/** Every route is under this prefix; the proxy sends `/api/*` to the API process. */
export const apiPrefix = "/api/v1" as const

/** The whole HTTP contract: served by `apps/api`, called by the console and the tests. */
export class NestFleetApi extends HttpApi.make("nestfleet")
  .add(HealthApi)
  .add(AuthApi)
  .add(SessionApi)
  .add(UsersApi)
  .add(ProductsApi)
  .add(ChannelsApi)
  .add(WebhooksApi)
  .add(CasesApi)
  .add(DraftsApi)
  .add(ChangePrepsApi)
  .add(KnowledgeApi)
  .add(AiSettingsApi)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(InternalServerError)
  .prefix(apiPrefix)
  .annotateContext(
    OpenApi.annotations({
      title: "NestFleet API",
      version: "1",
      description: "Self-hosted, AI-assisted support cases."
    })
  )
{}
