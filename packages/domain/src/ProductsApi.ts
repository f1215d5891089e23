/** Products: everyone reads them, admins write them. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { RequireAdmin, RequireViewer } from "./Access.js"
import { Product, ProductId, ProductName, ProductSettingsPatch, Slug } from "./Products.js"

export class ProductList extends Schema.Class<ProductList>("ProductList")({
  items: Schema.Array(Product)
}) {}

export class NewProduct extends Schema.Class<NewProduct>("NewProduct")({
  name: ProductName,
  slug: Slug,
  settings: Schema.optional(ProductSettingsPatch)
}) {}

export class ProductChanges extends Schema.Class<ProductChanges>("ProductChanges")({
  name: Schema.optional(ProductName),
  slug: Schema.optional(Slug),
  settings: Schema.optional(ProductSettingsPatch)
}) {}

export class ProductNotFound extends Schema.TaggedError<ProductNotFound>()(
  "ProductNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404, description: "No product has this id." })
) {}

export class SlugTaken extends Schema.TaggedError<SlugTaken>()(
  "SlugTaken",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409, description: "Another product has this slug." })
) {}

const ProductPath = Schema.Struct({ id: ProductId })

export class ProductsApi extends HttpApiGroup.make("products")
  .add(
    HttpApiEndpoint.get("list", "/products")
      .addSuccess(ProductList)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "Every product, by name")
  )
  .add(
    HttpApiEndpoint.get("get", "/products/:id")
      .setPath(ProductPath)
      .addSuccess(Product)
      .addError(ProductNotFound)
      .middleware(RequireViewer)
      .annotate(OpenApi.Summary, "A product with its settings")
  )
  .add(
    HttpApiEndpoint.post("create", "/products")
      .setPayload(NewProduct)
      .addSuccess(Product, { status: 201 })
      .addError(SlugTaken)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Summary, "Add a product; unset settings take their defaults")
  )
  .add(
    HttpApiEndpoint.patch("update", "/products/:id")
      .setPath(ProductPath)
      .setPayload(ProductChanges)
      .addSuccess(Product)
      .addError(ProductNotFound)
      .addError(SlugTaken)
      .middleware(RequireAdmin)
      .annotate(OpenApi.Summary, "Rename, re-slug, or change some settings (the others are kept)")
  )
  .annotate(OpenApi.Title, "Products")
{}
