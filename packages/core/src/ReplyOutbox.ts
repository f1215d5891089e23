/**
 * Where an approved draft version starts its way to the customer: its reply as an outbound
 * message (`sending`) and the deliver_reply job, written in the transaction of the approval
 * (an agent's, or the product's policy) so that one never stands without the other.
 */
import { CasesRepo } from "@nestfleet/db/CasesRepo"
import type { DraftVersionRow } from "@nestfleet/db/DraftsRepo"
import type { UserId } from "@nestfleet/domain/Users"
import { JobQueue } from "@nestfleet/jobs/JobQueue"
import { DeliverReplyJob } from "@nestfleet/jobs/PipelineJobs"
import { Effect, Option } from "effect"

/** The singleton key of a version's delivery: one job at a time per version. */
export const deliveryKey = (draftId: string, version: number) => `reply:${draftId}:${version}`

export class ReplyOutbox extends Effect.Service<ReplyOutbox>()("@nestfleet/core/ReplyOutbox", {
  effect: Effect.gen(function*() {
    const cases = yield* CasesRepo
    const queue = yield* JobQueue

    /** Queues the version's reply, sent as `approver`; a version queued before is left as it is. */
    const enqueue = (version: DraftVersionRow, approver: { readonly userId: UserId | null; readonly name: string }) =>
      Effect.gen(function*() {
        const message = yield* cases.insertOutbound({
          caseId: version.caseId,
          author: { name: approver.name },
          authorUserId: approver.userId,
          body: version.body,
          draftId: version.draftId,
          draftVersion: version.version
        })
        if (Option.isNone(message)) return
        yield* queue.send(
          DeliverReplyJob,
          { draftId: version.draftId, version: version.version },
          { singletonKey: deliveryKey(version.draftId, version.version) }
        ).pipe(Effect.orDie)
      })

    return { enqueue } as const
  }),
  dependencies: [CasesRepo.Default]
}) {}
