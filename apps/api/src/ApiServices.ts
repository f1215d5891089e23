/**
 * The services the API's handlers call, over the database and the job queue. On a database
 * without users, building them creates the first admin.
 */
import { LlmLive } from "@nestfleet/ai/LlmLive"
import { AccessTokens } from "@nestfleet/core/AccessTokens"
import { AiCallLogLive } from "@nestfleet/core/AiCallLog"
import { Cases } from "@nestfleet/core/Cases"
import { Channels } from "@nestfleet/core/Channels"
import { Ingestion } from "@nestfleet/core/Ingestion"
import { Knowledge } from "@nestfleet/core/Knowledge"
import { Products } from "@nestfleet/core/Products"
import { SecretCipher } from "@nestfleet/core/SecretCipher"
import { Sessions } from "@nestfleet/core/Sessions"
import { SystemStatus } from "@nestfleet/core/SystemStatus"
import { Users } from "@nestfleet/core/Users"
import { Effect, Layer } from "effect"

const FirstAdminLive = Layer.effectDiscard(Effect.flatMap(Users, (users) => users.ensureFirstAdmin))

export const ApiServicesLive = FirstAdminLive.pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      SystemStatus.Default,
      Sessions.Default,
      Users.Default,
      Products.Default,
      Channels.Default,
      Ingestion.Default,
      Cases.Default,
      Knowledge.Default
    )
  ),
  // Both carry ServerKeys.Default, one layer value, which a build memoizes: the server's keys
  // are resolved once for the two of them.
  Layer.provide(Layer.mergeAll(AccessTokens.Default, SecretCipher.Default, LlmLive.pipe(Layer.provide(AiCallLogLive))))
)
