/**
 * Replies on a GitHub channel: a comment on the case's issue through GitHub's REST API
 * (`POST /repos/{owner}/{repo}/issues/{number}/comments`), with the channel's token as its
 * reply secret. `config.apiUrl` points at GitHub Enterprise (`https://HOST/api/v3`); the default
 * is `https://api.github.com`. The comment comes back as an `issue_comment` webhook: its
 * delivery key is claimed, so it is not taken for the customer writing again.
 *
 * GitHub takes no idempotency key for comments, so the comment ends with the reply's key, not
 * shown once rendered (ReplyMarker). A retry first looks through the issue's comments made since
 * the reply was approved: one that carries the key is the reply, already there, and is not made
 * again; intake knows the echo by the key too, should a crash come before its claim.
 */
import { type HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Option, Redacted, Schema } from "effect"
import * as ReplyMarker from "./ReplyMarker.js"
import { DeliveryFailed, execute, failureOfStatus, type Outgoing, type Receipt, requireReplySecret, timeout } from "./ReplyTarget.js"

export const defaultApiUrl = "https://api.github.com"

const Config = Schema.Struct({ apiUrl: Schema.optional(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/))) })

/** The issue a case's thread names: `github-issue:<owner>/<repo>#<number>`. */
export const issueOf = (threadKey: string) => {
  const match = /^github-issue:([^/\s]+)\/([^#\s]+)#(\d+)$/.exec(threadKey)
  return match === null ? Option.none() : Option.some({ owner: match[1]!, repo: match[2]!, number: Number(match[3]) })
}

const Created = Schema.Struct({ id: Schema.Number })

const Comments = Schema.Array(Schema.Struct({ id: Schema.Number, body: Schema.optional(Schema.NullOr(Schema.String)) }))

/** Comments looked through for a reply an earlier attempt made: one page, since the reply was approved. */
const commentsPerPage = 100

/** Taken off the approval's time when listing comments since it: GitHub's clock and ours may differ. */
const clockSkewMs = 10 * 60 * 1000

/** GitHub's rate limits answer 403 (secondary) or 429 with Retry-After, or with no requests left. */
const rateLimited = (status: number, headers: Record<string, string>) =>
  (status === 403 || status === 429) && (headers["retry-after"] !== undefined || headers["x-ratelimit-remaining"] === "0")

/** A failure of GitHub's answer: its rate limit, or its status. */
const failureOf = (response: { readonly status: number; readonly headers: Record<string, string> }) =>
  rateLimited(response.status, response.headers)
    ? new DeliveryFailed({ reason: `GitHub's rate limit (HTTP ${response.status})`, permanent: false })
    : failureOfStatus(response.status, "GitHub")

const receiptOf = (id: number): Receipt => ({ externalId: `github-comment:${id}`, echoKeys: [`github-comment:${id}`] })

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
    const comments = `${apiUrl}/repos/${encodeURIComponent(issue.owner)}/${encodeURIComponent(issue.repo)}/issues/${issue.number}/comments`
    const headers = {
      accept: "application/vnd.github+json",
      authorization: `Bearer ${Redacted.value(token)}`,
      "x-github-api-version": "2022-11-28",
      "user-agent": "NestFleet"
    }

    if (outgoing.retried) {
      const listed = yield* execute(
        http,
        HttpClientRequest.get(comments, {
          urlParams: {
            since: new Date(outgoing.reply.createdAt.getTime() - clockSkewMs).toISOString(),
            per_page: String(commentsPerPage)
          },
          headers
        }),
        "GitHub"
      )
      const failure = failureOf(listed)
      if (failure !== null) return yield* failure
      const made = yield* listed.json.pipe(
        Effect.flatMap(Schema.decodeUnknown(Comments)),
        Effect.timeout(timeout),
        Effect.mapError(() => new DeliveryFailed({ reason: "GitHub's list of comments could not be read", permanent: false }))
      )
      const earlier = made.find((comment) => ReplyMarker.carries(comment.body ?? "", outgoing.key))
      if (earlier !== undefined) return receiptOf(earlier.id)
    }

    const response = yield* execute(
      http,
      HttpClientRequest.post(comments, { headers }).pipe(
        HttpClientRequest.bodyText(
          JSON.stringify({ body: ReplyMarker.append(outgoing.reply.body, outgoing.key) }),
          "application/json"
        )
      ),
      "GitHub"
    )
    const failure = failureOf(response)
    if (failure !== null) return yield* failure
    // The comment exists once GitHub answered 2xx: an unreadable body is no reason to comment again.
    const created = yield* response.json.pipe(
      Effect.flatMap(Schema.decodeUnknown(Created)),
      Effect.timeout(timeout),
      Effect.option
    )
    return Option.match(created, { onNone: (): Receipt => ({ externalId: null, echoKeys: [] }), onSome: ({ id }) => receiptOf(id) })
  })
