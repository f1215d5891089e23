/**
 * The access middlewares of the contract (`RequireViewer`, `RequireAgent`, `RequireAdmin`):
 * each verifies the bearer token, loads the user from the database and checks the role.
 */
import { Sessions } from "@nestfleet/core/Sessions"
import { RequireAdmin, RequireAgent, RequireViewer } from "@nestfleet/domain/Access"
import type { Role } from "@nestfleet/domain/Users"
import { Effect, Layer, type Redacted } from "effect"

const bearerFor = (role: Role) =>
  Effect.map(Sessions, (sessions) => ({
    bearer: (token: Redacted.Redacted<string>) => sessions.authenticate(token, role)
  }))

export const AccessMiddlewareLive = Layer.mergeAll(
  Layer.effect(RequireViewer, bearerFor(RequireViewer.role)),
  Layer.effect(RequireAgent, bearerFor(RequireAgent.role)),
  Layer.effect(RequireAdmin, bearerFor(RequireAdmin.role))
)
