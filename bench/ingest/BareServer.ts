/**
 * The yardstick for `pnpm bench ingest`: the same webhook ingestion written plainly with
 * `node:http` and `pg` — look the channel up, decrypt its secret, verify the Standard
 * Webhooks signature on the raw body, check the payload, then in one transaction claim the
 * delivery, insert case, message and event, and enqueue the triage job through pg-boss.
 * No framework, no schemas, no logging: what the work costs on this database.
 *
 * Run as its own process: DATABASE_URL, PORT, ENCRYPTION_KEY.
 */
import { createDecipheriv } from "node:crypto"
import * as Http from "node:http"
import pg from "pg"
import { PgBoss } from "pg-boss"
import { Webhook } from "standardwebhooks"

const databaseUrl = process.env.DATABASE_URL!
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 })
const key = Buffer.from(process.env.ENCRYPTION_KEY!, "hex")
// It only sends jobs: no LISTEN (its inserts still NOTIFY whoever works the queue), as NestFleet's API process.
const boss = new PgBoss({ connectionString: databaseUrl, useListenNotify: false })
await boss.start()

const decrypt = (stored: string): string => {
  const [version, keyId, iv, ciphertext, tag] = stored.split(".")
  if (version === "nfs0") return Buffer.from(keyId!, "base64url").toString("utf8")
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv!, "base64url"))
  decipher.setAAD(Buffer.from(`nfs1.${keyId}`))
  decipher.setAuthTag(Buffer.from(tag!, "base64url"))
  return Buffer.concat([decipher.update(Buffer.from(ciphertext!, "base64url")), decipher.final()]).toString("utf8")
}

const answer = (response: Http.ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { "content-type": "application/json" })
  response.end(JSON.stringify(body))
}

const ingest = async (channelId: string, headers: Http.IncomingHttpHeaders, raw: Buffer) => {
  const { rows } = await pool.query("select id, product_id, type, secret, enabled from channels where id = $1", [channelId])
  const channel = rows[0]
  if (channel === undefined || !channel.enabled) return [404, { message: "No enabled channel has this id" }] as const
  try {
    new Webhook(decrypt(channel.secret)).verify(raw.toString("utf8"), headers as Record<string, string>, { jsonParse: false })
  } catch {
    return [401, { message: "bad signature" }] as const
  }
  let payload: any
  try {
    payload = JSON.parse(raw.toString("utf8"))
  } catch {
    return [400, { message: "not JSON" }] as const
  }
  if (typeof payload?.externalId !== "string" || typeof payload.subject !== "string" || typeof payload.body !== "string") {
    return [400, { message: "missing fields" }] as const
  }
  const keys = [`external:${payload.externalId}`, `webhook-id:${headers["webhook-id"]}`]
  const client = await pool.connect()
  try {
    await client.query("begin")
    const claimed = await client.query(
      "insert into deliveries (channel_id, delivery_key) select $1, unnest($2::text[]) on conflict do nothing returning 1",
      [channel.id, keys]
    )
    if (claimed.rowCount !== keys.length) {
      await client.query("rollback")
      return [200, { duplicate: true }] as const
    }
    const created = await client.query(
      `insert into cases (product_id, channel_id, thread_key, subject, customer) values ($1, $2, $3, $4, $5)
       on conflict (channel_id, thread_key) do nothing returning id`,
      [channel.product_id, channel.id, keys[0], payload.subject, JSON.stringify(payload.customer ?? {})]
    )
    const caseId = created.rows[0].id
    const message = await client.query(
      "insert into messages (case_id, kind, external_id, author, body, metadata) values ($1, 'inbound', $2, $3, $4, $5) returning id",
      [caseId, payload.externalId, JSON.stringify(payload.customer ?? {}), payload.body, JSON.stringify(payload.metadata ?? {})]
    )
    const messageId = message.rows[0].id
    await client.query("insert into case_events (case_id, kind, data) values ($1, 'case_opened', $2)", [
      caseId,
      JSON.stringify({ messageId, channelId: channel.id, channelType: channel.type })
    ])
    await client.query(
      "update deliveries set case_id = $1, message_id = $2 where channel_id = $3 and delivery_key = any($4::text[])",
      [caseId, messageId, channel.id, keys]
    )
    await boss.send("triage", { payload: { caseId, reason: "new_case" } }, {
      db: { executeSql: (text: string, values?: Array<unknown>) => client.query(text, values) }
    })
    await client.query("commit")
    return [202, { caseId, messageId, duplicate: false }] as const
  } catch (error) {
    await client.query("rollback").catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

const server = Http.createServer((request, response) => {
  const match = /^\/api\/v1\/webhooks\/([^/?]+)$/.exec(request.url ?? "")
  if (request.method !== "POST" || match === null) return answer(response, 404, { message: "not found" })
  const chunks: Array<Buffer> = []
  let size = 0
  request.on("data", (chunk: Buffer) => {
    size += chunk.length
    if (size > 1024 * 1024) request.destroy()
    else chunks.push(chunk)
  })
  request.on("end", () => {
    ingest(match[1]!, request.headers, Buffer.concat(chunks)).then(
      ([status, body]) => answer(response, status, body),
      () => answer(response, 500, { message: "failed" })
    )
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("Listening\n"))

process.on("SIGTERM", () => {
  server.close()
  void Promise.all([boss.stop({ graceful: false }), pool.end()]).then(() => process.exit(0))
})
