/** Products: what customers write about, with the policy the AI pipeline follows for each. */
import { Schema } from "effect"
import { CaseType } from "./CaseType.js"
import { noNul } from "./Text.js"

export const ProductId = Schema.UUID.pipe(Schema.brand("ProductId"))
export type ProductId = typeof ProductId.Type

export const ReplyMode = Schema.Literal("approval", "auto").pipe(
  Schema.annotations({ description: "approval: drafts wait for an agent; auto: confident drafts are sent at once." })
)

const Fraction = Schema.Number.pipe(
  Schema.between(0, 1, { message: () => "Expected a number from 0 to 1" })
)

const Text = (max: number) =>
  Schema.Trim.pipe(
    noNul,
    Schema.minLength(1, { message: () => "Cannot be empty" }),
    Schema.maxLength(max, { message: () => `At most ${max} characters` })
  )

export const ProductName = Text(200)

export const Slug = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, {
    message: () => "A slug is lowercase letters and digits, with single hyphens between them"
  }),
  Schema.maxLength(64, { message: () => "A slug is at most 64 characters" })
)

/** A part of the product; change-prep maps bugs to components by their path hints. */
export class Component extends Schema.Class<Component>("Component")({
  name: Text(100),
  description: Schema.String.pipe(noNul, Schema.maxLength(2000)),
  pathHints: Schema.Array(Schema.String.pipe(noNul, Schema.maxLength(300))).pipe(Schema.maxItems(50))
}) {}

/** Types whose drafts may be sent without a person; an incident never is. */
export const AutoSendTypes = Schema.Array(CaseType).pipe(
  Schema.filter((types) => !types.includes("incident") || "An incident is never answered without a person"),
  Schema.maxItems(7)
)

/** Text around a draft's body; `{name}` becomes the customer's name (or "there"). */
const ReplyTemplate = Schema.String.pipe(
  noNul,
  Schema.maxLength(2000, { message: () => "A reply template is at most 2000 characters" })
)

/** Every setting, as a client may send it. */
const settingsFields = {
  replyMode: ReplyMode,
  /** In `auto` mode, drafts at least this confident are sent without approval. */
  autoSendMinConfidence: Fraction,
  /** Known-issue matches below this similarity are ignored. */
  matchMinSimilarity: Fraction,
  /** Triage below this confidence puts the case in `needs_attention`. */
  triageMinConfidence: Fraction,
  components: Schema.Array(Component).pipe(Schema.maxItems(200)),
  /** In `auto` mode, only drafts for these types are sent without approval. */
  autoSendTypes: AutoSendTypes,
  replyGreeting: ReplyTemplate,
  replyClosing: ReplyTemplate
}

/** Settings added after products existed: a product stored without them reads these. */
const laterDefaults = {
  autoSendTypes: (): ReadonlyArray<CaseType> => ["question"],
  replyGreeting: () => "Hi {name},",
  replyClosing: () => "Best regards,\nThe support team"
}

export class ProductSettings extends Schema.Class<ProductSettings>("ProductSettings")({
  ...settingsFields,
  autoSendTypes: Schema.optionalWith(AutoSendTypes, { default: laterDefaults.autoSendTypes }),
  replyGreeting: Schema.optionalWith(ReplyTemplate, { default: laterDefaults.replyGreeting }),
  replyClosing: Schema.optionalWith(ReplyTemplate, { default: laterDefaults.replyClosing })
}) {
  static readonly defaults = new ProductSettings({
    replyMode: "approval",
    autoSendMinConfidence: 0.85,
    matchMinSimilarity: 0.8,
    triageMinConfidence: 0.6,
    components: []
  })
}

/** Settings as a client sends them: any subset, the rest kept (or defaulted). */
export const ProductSettingsPatch = Schema.partialWith(Schema.Struct(settingsFields), { exact: true })
export type ProductSettingsPatch = typeof ProductSettingsPatch.Type

export class Product extends Schema.Class<Product>("Product")({
  id: ProductId,
  name: Schema.String,
  slug: Schema.String,
  settings: ProductSettings,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}
