import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** The database's side of the readiness probe. */
export class HealthRepo extends Effect.Service<HealthRepo>()("@nestfleet/db/HealthRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ping = sql`select 1`.pipe(Effect.asVoid, Effect.withSpan("HealthRepo.ping"))
    return { ping } as const
  })
}) {}
