/** Setting up channels and delivering to them, as the intake tests do. */
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as AuthFlows from "./AuthFlows.js"
import type * as Signing from "./Signing.js"
import * as TestServer from "./TestServer.js"

export type ChannelType = "webhook" | "email" | "github" | "slack"

let products = 0

/** A new product with one channel of `type`; answers their ids, the channel's secret and an admin token. */
export const channelOf = (type: ChannelType, settings: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const token = (yield* AuthFlows.signIn(TestServer.admin)).accessToken
    const product = yield* AuthFlows.call(token, "/api/v1/products", {
      method: "POST",
      body: { name: `Product ${++products}`, slug: `product-${products}`, settings }
    })
    expect(product.status).toBe(201)
    const productId = (product.body as { id: string }).id
    const created = yield* AuthFlows.call(token, `/api/v1/products/${productId}/channels`, {
      method: "POST",
      body: { type, name: `${type} channel`, ...(type === "slack" ? { secret: "slack-signing-secret-0123456789" } : {}) }
    })
    expect(created.status).toBe(201)
    const { channel, secret } = created.body as { channel: { id: string }; secret: string }
    return { productId, channelId: channel.id, secret, token }
  })

/** A signed delivery to the channel's webhook. */
export const deliver = (channelId: string, signed: Signing.Signed) =>
  TestServer.request(`/api/v1/webhooks/${channelId}`, { method: "POST", headers: signed.headers, body: signed.body })

const fixtures = Path.resolve(import.meta.dirname, "../../../test/fixtures")

/** A recorded-shape payload, exactly as its sender sends it: `github/…` or `slack/…`. */
export const fixture = (name: string) => Fs.readFileSync(Path.join(fixtures, name), "utf8")
