/**
 * Replies on a GitHub channel: a comment on the case's issue through GitHub's REST API
 * (`POST /repos/{owner}/{repo}/issues/{number}/comments`), with the channel's token as its
 * reply secret. `config.apiUrl` points at GitHub Enterprise (`https://HOST/api/v3`); the default
 * is `https://api.github.com`. The comment comes back as an `issue_comment` webhook: its
 * delivery key is claimed, so it is not taken for the customer writing again.
 *
 * GitHub takes no idempotency key for comments: a crash between GitHub creating the comment
 * and NestFleet recording it makes the retry comment again.
 */
import { type HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Option, Redacted, Schema } from "effect"
import { DeliveryFailed, execute, failureOfStatus, type Outgoing, type Receipt, requireReplySecret, timeout } from "./ReplyTarget.js"

export const defaultApiUrl = "https://api.github.com"

const Config = Schema.Struct({ apiUrl: Schema.optional(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/))) })

/** The issue a case's thread names: `github-issue:<owner>/<repo>#<number>`. */
export const issueOf = (threadKey: string) => {
  const match = /^github-issue:([^/\s]+)\/([^#\s]+)#(\d+)$/.exec(threadKey)
  return match === null ? Option.none() : Option.some({ owner: match[1]!, repo: match[2]!, number: Number(match[3]) })
}

const Created = Schema.Struct({ id: Schema.Number })

/** GitHub's rate limits answer 403 (secondary) or 429 with Retry-After, or with no requests left. */
const rateLimited = (status: number, headers: Record<string, string>) =>
  (status === 403 || status === 429) && (headers["retry-after"] !== undefined || headers["x-ratelimit-remaining"] === "0")

export const send = (http: HttpClient.HttpClient, outgoing: Outgoing): Effect.Effect<Receipt, DeliveryFailed> =>
  Effect.gen(function*() {
    const config = yield* Schema.decodeUnknown(Config)(outgoing.channel.config).pipe(
      Effect.mapError(() => new DeliveryFailed({ reason: "The GitHub channel's config.apiUrl is not an http or https URL", permanent: true }))
    )
    const issue = yield* Option.match(issueOf(outgoing.case.threadKey), {
      onNone: () => Effect.fail(new DeliveryFailed({ reason: "The case is not a GitHub issue's", permanent: true })),
      onSome: Effect.succeed
    })
    const token = yield* requireReplySecret(outgoing, "token")
    const apiUrl = (config.apiUrl ?? defaultApiUrl).replace(/\/+$/, "")
    const path = `/repos/${encodeURIComponent(issue.owner)}/${encodeURIComponent(issue.repo)}/issues/${issue.number}/comments`
    const request = HttpClientRequest.post(`${apiUrl}${path}`).pipe(
      HttpClientRequest.setHeaders({
        accept: "application/vnd.github+json",
        authorization: `Bearer ${Redacted.value(token)}`,
        "x-github-api-version": "2022-11-28",
        "user-agent": "NestFleet"
      }),
      HttpClientRequest.bodyText(JSON.stringify({ body: outgoing.reply.body }), "application/json")
    )
    const response = yield* execute(http, request, "GitHub")
    if (rateLimited(response.status, response.headers)) {
      return yield* new DeliveryFailed({ reason: `GitHub's rate limit (HTTP ${response.status})`, permanent: false })
    }
    const failure = failureOfStatus(response.status, "GitHub")
    if (failure !== null) return yield* failure
    // The comment exists once GitHub answered 2xx: an unreadable body is no reason to comment again.
    const created = yield* response.json.pipe(
      Effect.flatMap(Schema.decodeUnknown(Created)),
      Effect.timeout(timeout),
      Effect.option
    )
    return Option.match(created, {
      onNone: () => ({ externalId: null, echoKeys: [] }),
      onSome: ({ id }) => ({ externalId: `github-comment:${id}`, echoKeys: [`github-comment:${id}`] })
    })
  })
