/**
 * The services the API's handlers call, over the database and the job queue. On a database
 * without users, building them creates the first admin. `AiSettings` and `SecretCipher` are
 * among what it provides: the worker's pipeline, in the same process, takes its model and
 * reads secrets with them too.
 */
import { AccessTokens } from "@nestfleet/core/AccessTokens"
import { AiSettings, LlmFromSettings } from "@nestfleet/core/AiSettings"
import { Cases } from "@nestfleet/core/Cases"
import { ChangePreps } from "@nestfleet/core/ChangePreps"
import { Channels } from "@nestfleet/core/Channels"
import { Drafts } from "@nestfleet/core/Drafts"
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
      Drafts.Default,
      ChangePreps.Default,
      Knowledge.Default
    )
  ),
  // The same values as the worker's (Worker.ts): a process that runs both builds them once,
  // so the API's change of the AI settings is its worker's at once.
  Layer.provide(LlmFromSettings),
  Layer.provideMerge(AiSettings.Default),
  // Both carry ServerKeys.Default, one layer value, which a build memoizes: the server's keys
  // are resolved once for the two of them. The cipher is also the in-process worker's (it
  // reads the channels' secrets to sign replies).
  Layer.provideMerge(Layer.mergeAll(AccessTokens.Default, SecretCipher.Default))
)
