/** Products, with their settings as one JSON document. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { ProductId, ProductSettings } from "@nestfleet/domain/Products"
import { SlugTaken } from "@nestfleet/domain/ProductsApi"
import { Effect, Schema } from "effect"
import { onUniqueViolation } from "./SqlErrors.js"

export class ProductRow extends Schema.Class<ProductRow>("ProductRow")({
  id: ProductId,
  name: Schema.String,
  slug: Schema.String,
  settings: ProductSettings,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf
}) {}

const ProductFields = Schema.Struct({ name: Schema.String, slug: Schema.String, settings: ProductSettings })

const slugTaken = (slug: string) => new SlugTaken({ message: `Another product has the slug ${slug}` })

export class ProductsRepo extends Effect.Service<ProductsRepo>()("@nestfleet/db/ProductsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const onSlugTaken = (slug: string) => onUniqueViolation("products_slug_unique", () => Effect.fail(slugTaken(slug)))

    const list = SqlSchema.findAll({
      Request: Schema.Void,
      Result: ProductRow,
      execute: () => sql`select * from products order by name, id`
    })

    const findById = SqlSchema.findOne({
      Request: ProductId,
      Result: ProductRow,
      execute: (id) => sql`select * from products where id = ${id}`
    })

    const findBySlug = SqlSchema.findOne({
      Request: Schema.String,
      Result: ProductRow,
      execute: (slug) => sql`select * from products where slug = ${slug}`
    })

    /** The product, locked until the transaction ends: a settings change merges into what is there. */
    const lock = SqlSchema.findOne({
      Request: ProductId,
      Result: ProductRow,
      execute: (id) => sql`select * from products where id = ${id} for update`
    })

    const insertRow = SqlSchema.single({
      Request: ProductFields,
      Result: ProductRow,
      execute: ({ name, settings, slug }) =>
        sql`
          insert into products (name, slug, settings)
          values (${name}, ${slug}, ${JSON.stringify(settings)}::jsonb)
          returning *`
    })

    /** Replaces name, slug and settings; the caller merged them with the current ones. */
    const updateRow = SqlSchema.findOne({
      Request: Schema.Struct({ id: ProductId, ...ProductFields.fields }),
      Result: ProductRow,
      execute: ({ id, name, settings, slug }) =>
        sql`
          update products
          set name = ${name}, slug = ${slug}, settings = ${JSON.stringify(settings)}::jsonb, updated_at = now()
          where id = ${id}
          returning *`
    })

    /**
     * The product's own indexes (`create_product_indexes`, migrations 008 and 009): its passages' words,
     * and its vectors in every embedding space searched or being filled. Searches are per
     * product, and an index holding only the product's rows spares them everyone else's.
     */
    const createIndexes = (id: ProductId) => sql`select create_product_indexes(${id})`.pipe(Effect.asVoid)

    return {
      list: () => list(undefined),
      findById,
      findBySlug,
      lock,
      createIndexes,
      insert: (fields: typeof ProductFields.Type) => insertRow(fields).pipe(onSlugTaken(fields.slug)),
      update: (id: ProductId, fields: typeof ProductFields.Type) => updateRow({ id, ...fields }).pipe(onSlugTaken(fields.slug))
    } as const
  })
}) {}
