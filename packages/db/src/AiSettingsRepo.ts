/**
 * The AI settings an admin set: one row at most (none: the environment's apply). The API key
 * is stored as core/SecretCipher hands it over. Every change is announced on `changesTopic`
 * when it commits, so that every process drops the settings it keeps.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { AiProvider } from "@nestfleet/domain/AiSettings"
import { UserId } from "@nestfleet/domain/Users"
import { Effect, Schema } from "effect"

/** The NOTIFY topic on which a change of the AI settings is announced (the payload: its version, or `removed`). */
export const changesTopic = "nestfleet_ai_settings_changed"

const StoredModels = Schema.Struct({ fast: Schema.String, standard: Schema.String, complex: Schema.String })

export class AiSettingsRow extends Schema.Class<AiSettingsRow>("AiSettingsRow")({
  provider: AiProvider,
  baseUrl: Schema.NullOr(Schema.String),
  /** `{}` for builtin. */
  models: Schema.Union(StoredModels, Schema.Struct({})),
  embeddingModel: Schema.NullOr(Schema.String),
  embeddingDimensions: Schema.NullOr(Schema.Int),
  timeoutMs: Schema.NullOr(Schema.Int),
  /** The stored form (encrypted); never leaves the server. */
  apiKeyEncrypted: Schema.NullOr(Schema.String),
  /** New at every change, never repeated. */
  version: Schema.Int,
  updatedBy: Schema.NullOr(UserId),
  updatedAt: Schema.DateFromSelf
}) {}

export const AiSettingsFields = Schema.Struct({
  provider: AiProvider,
  baseUrl: Schema.NullOr(Schema.String),
  models: Schema.NullOr(StoredModels),
  embeddingModel: Schema.NullOr(Schema.String),
  embeddingDimensions: Schema.NullOr(Schema.Int),
  timeoutMs: Schema.NullOr(Schema.Int),
  apiKeyEncrypted: Schema.NullOr(Schema.String),
  updatedBy: UserId
})
export type AiSettingsFields = typeof AiSettingsFields.Type

export class AiSettingsRepo extends Effect.Service<AiSettingsRepo>()("@nestfleet/db/AiSettingsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const find = SqlSchema.findOne({
      Request: Schema.Void,
      Result: AiSettingsRow,
      execute: () => sql`select * from ai_settings`
    })

    /** The row, locked until the transaction ends: a change that keeps the stored key sees the one it keeps. */
    const lock = SqlSchema.findOne({
      Request: Schema.Void,
      Result: AiSettingsRow,
      execute: () => sql`select * from ai_settings for update`
    })

    /** Writes the settings whole, with a new version; the change and its announcement are one statement. */
    const save = SqlSchema.single({
      Request: AiSettingsFields,
      Result: AiSettingsRow,
      execute: (fields) => {
        const models = JSON.stringify(fields.models ?? {})
        return sql`
          with saved as (
            insert into ai_settings as current (
              provider, base_url, models, embedding_model, embedding_dimensions, timeout_ms,
              api_key_encrypted, updated_by
            )
            values (
              ${fields.provider}, ${fields.baseUrl}, ${models}::jsonb, ${fields.embeddingModel},
              ${fields.embeddingDimensions}, ${fields.timeoutMs}, ${fields.apiKeyEncrypted}, ${fields.updatedBy}
            )
            on conflict (id) do update set
              provider = excluded.provider,
              base_url = excluded.base_url,
              models = excluded.models,
              embedding_model = excluded.embedding_model,
              embedding_dimensions = excluded.embedding_dimensions,
              timeout_ms = excluded.timeout_ms,
              api_key_encrypted = excluded.api_key_encrypted,
              updated_by = excluded.updated_by,
              version = nextval('ai_settings_versions'),
              updated_at = now()
            returning current.*
          )
          select saved.*, pg_notify(${changesTopic}, saved.version::text) as announced from saved`
      }
    })

    /** Removes the row (the environment's settings apply again); true if there was one. */
    const remove = () =>
      Effect.map(
        sql`
          with removed as (delete from ai_settings returning version)
          select pg_notify(${changesTopic}, 'removed') as announced from removed`,
        (rows) => rows.length > 0
      )

    return { find: () => find(undefined), lock: () => lock(undefined), save, remove } as const
  })
}) {}
