/**
 * Client-facing errors shared by every API group. Each one is a Schema class so the
 * contract can encode it, document it in OpenAPI and decode it in the typed client.
 *
 * Every 4xx/5xx body has the same shape: `{ _tag, message, requestId }`, plus fields
 * specific to the error (for example `issues` on a decode error). The API adds
 * `requestId` at the edge, because errors are raised far from the request.
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { message: Schema.String, limitBytes: Schema.Int },
  HttpApiSchema.annotations({ status: 413, description: "The request body is over the size limit." })
) {}

/** A body sent as something other than JSON: refused before it is read, on every endpoint. */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()(
  "UnsupportedMediaType",
  { message: Schema.String },
  HttpApiSchema.annotations({
    status: 415,
    description: "The request body is not sent as JSON: every body must be sent with Content-Type: application/json."
  })
) {}

/** What a 500 says, whoever answers it: the cause stays in the log, under the request id. */
export const unexpectedFailureMessage = "Something went wrong on our side. Quote the request id if you report it."

export class InternalServerError extends Schema.TaggedError<InternalServerError>()(
  "InternalServerError",
  { message: Schema.String },
  HttpApiSchema.annotations({
    status: 500,
    description: "An unexpected failure. The body never carries internals; quote the request id."
  })
) {}

/** The body of every error response, as a client sees it on the wire. */
export const ErrorBody = Schema.Struct(
  {
    _tag: Schema.String,
    message: Schema.String,
    requestId: Schema.String
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
export type ErrorBody = typeof ErrorBody.Type

/** No valid credentials: a missing, malformed, tampered or expired token, or a user who is gone or disabled. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401, description: "Sign in first: the access token is missing or invalid." })
) {}

/** Signed in, but the user's roles do not allow this. */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403, description: "The user's roles do not allow this." })
) {}
