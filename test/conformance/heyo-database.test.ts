/**
 * Heyo-dialect database conformance on the raw wire: every route of reference/heyo-api.md §2.6
 * with its field names, types, status codes and error bodies, and §3's SqlValue, checked with
 * hand-written JSON (never our own schemas). heyod runs with an API key, so the credential
 * rules are checked too: the key for the routes, none for connection-info, a `heyo_db_`
 * token for the libsql endpoints.
 */
import * as zlib from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { Client, expectError, expectJson, expectStatus, randomSuffix, show } from "./Wire.js"

const KEY = "wire-db-key"
const run = randomSuffix()

const databaseInfoFields = [
  "id",
  "name",
  "user_id",
  "account_id",
  "backend_server_id",
  "backend_database_id",
  "region",
  "status",
  "engine",
  "size_class",
  "s3_key",
  "wal_s3_prefix",
  "error_message",
  "created_at",
  "updated_at",
  "status_changed_at"
]

const isRfc3339 = (value: unknown) => typeof value === "string" && !Number.isNaN(Date.parse(value)) && /T/.test(value)

describe("Heyo wire: /sqlite-databases", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let dbId = ""

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY, args: ["--storage", "dir"] })
    client = new Client(heyod.url, KEY)
  })
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it("GET /sqlite-regions answers {regions: string[]}", async () => {
    const body = expectJson(await client.get("/sqlite-regions"), 200)
    expect(Array.isArray(body["regions"])).toBe(true)
    expect((body["regions"] as Array<unknown>).every((r) => typeof r === "string")).toBe(true)
  })

  it("POST /sqlite-databases answers a DatabaseInfo with every field; bad bodies are 400", async () => {
    const body = expectJson(await client.post("/sqlite-databases", { name: `wire-${run}`, region: "local" }), 201)
    for (const field of databaseInfoFields) expect(body, `DatabaseInfo.${field}`).toHaveProperty(field)
    expect(body["id"]).toMatch(/^db-[0-9a-z]{8}$/)
    expect(body["status"]).toBe("running")
    expect(body["engine"]).toBe("sqlite")
    expect(isRfc3339(body["status_changed_at"])).toBe(true)
    dbId = String(body["id"])

    expectError(await client.post("/sqlite-databases", {}), 400, "name")
    expectError(await client.post("/sqlite-databases", { name: `wire-${run}` }), 409, "already exists")
    expectError(await client.post("/sqlite-databases", { name: `wire-duck-${run}`, engine: "duckdb" }), 400, "duckdb")
    expectError(await client.post("/sqlite-databases", { name: "bad name!" }), 400, "name")
    expectError(await client.post("/sqlite-databases", { name: `wire-r-${run}`, region: "nowhere" }), 400, "region")
    expectError(await client.post("/sqlite-databases", { name: "x" }, { authorization: null }), 401)
  })

  it("GET /sqlite-databases wraps in {databases}; GET /:id answers the same info; unknown is 404", async () => {
    const list = expectJson(await client.get("/sqlite-databases"), 200)
    const databases = list["databases"] as Array<Record<string, unknown>>
    expect(databases.some((d) => d["id"] === dbId)).toBe(true)
    const one = expectJson(await client.get(`/sqlite-databases/${dbId}`), 200)
    expect(one["name"]).toBe(`wire-${run}`)
    expectError(await client.get("/sqlite-databases/db-00000000"), 404, "db-00000000")
  })

  it("POST /:id/exec: statements with positional args, results with columns/rows/rows_affected/last_insert_rowid/truncated, elapsed_ms", async () => {
    const reply = await client.post(`/sqlite-databases/${dbId}/exec`, {
      statements: [
        { sql: "CREATE TABLE w (id INTEGER PRIMARY KEY, s TEXT, f REAL)", args: [] },
        { sql: "INSERT INTO w (s, f) VALUES (?, ?), (?, ?)", args: ["a", 0.5, "b", 2.25] },
        { sql: "SELECT id, s, f FROM w ORDER BY id" }
      ],
      transaction: "immediate",
      max_rows: 1
    })
    const body = expectJson(reply, 200)
    expect(typeof body["elapsed_ms"]).toBe("number")
    const results = body["results"] as Array<Record<string, unknown>>
    expect(results).toHaveLength(3)
    expect(results[1]).toMatchObject({ columns: [], rows: [], rows_affected: 2, last_insert_rowid: 2, truncated: false })
    expect(results[2]).toMatchObject({ columns: ["id", "s", "f"], rows: [[1, "a", 0.5]], truncated: true })
    expect(results[2]).not.toHaveProperty("last_insert_rowid")

    // Integers beyond 2^53 keep every digit; a float keeps its decimal point.
    const exact = await client.request("POST", `/sqlite-databases/${dbId}/exec`, {
      raw: `{"statements":[{"sql":"SELECT ?, ?, ?","args":[9223372036854775807, 1.0, true]}]}`
    })
    expectStatus(exact, 200)
    expect(exact.text).toContain(`"rows":[[9223372036854775807,1.0,1]]`)

    expectError(await client.post(`/sqlite-databases/${dbId}/exec`, { statements: [] }), 400, "statements")
    expectError(await client.post(`/sqlite-databases/${dbId}/exec`, { statements: [{ sql: "SELECT" }] }), 400)
    expectError(
      await client.post(`/sqlite-databases/${dbId}/exec`, { statements: [{ sql: "SELECT 1" }], transaction: "eventually" }),
      400,
      "transaction"
    )
    expectError(await client.post(`/sqlite-databases/${dbId}/exec`, { statements: [{ sql: "SELECT 1" }], max_rows: 0 }), 400, "max_rows")
    expectError(
      await client.request("POST", `/sqlite-databases/${dbId}/exec`, { raw: `{"statements":[{"sql":"SELECT ?","args":[-1e999]}]}` }),
      400
    )
    expectError(await client.post(`/sqlite-databases/db-00000000/exec`, { statements: [{ sql: "SELECT 1" }] }), 404)
  })

  it("POST /:id/connection, GET connection-info (no key), GET connection-tokens, DELETE a token", async () => {
    const created = expectJson(await client.post(`/sqlite-databases/${dbId}/connection`, { ttl_seconds: 600, scopes: ["read"] }), 201)
    expect(Object.keys(created).sort()).toEqual(["auth_token", "database_id", "expires_at", "id", "scopes", "url"])
    expect(created["auth_token"]).toMatch(/^heyo_db_/)
    expect(created["database_id"]).toBe(dbId)
    expect(created["scopes"]).toEqual(["read"])
    expect(String(created["url"]).endsWith("/")).toBe(true)
    const expires = Date.parse(String(created["expires_at"]))
    expect(Math.abs(expires - Date.now() - 600_000)).toBeLessThan(10_000)

    const info = expectJson(await client.get(`/sqlite-databases/${dbId}/connection-info`, { authorization: null }), 200)
    expect(info).toEqual({ database_id: dbId, url: created["url"] })

    const tokens = expectJson(await client.get(`/sqlite-databases/${dbId}/connection-tokens`), 200)
    const list = tokens["tokens"] as Array<Record<string, unknown>>
    const mine = list.find((t) => t["id"] === created["id"])!
    expect(mine).toMatchObject({ id: created["id"], database_id: dbId, scopes: ["read"], revoked: false })
    expect(isRfc3339(mine["created_at"])).toBe(true)
    expect(mine).not.toHaveProperty("auth_token")
    expect(JSON.stringify(tokens)).not.toContain(String(created["auth_token"]))

    expectError(await client.post(`/sqlite-databases/${dbId}/connection`, { ttl_seconds: 86_401 }), 400, "ttl_seconds")
    expectError(await client.post(`/sqlite-databases/${dbId}/connection`, { scopes: ["admin"] }), 400, "scopes")

    expectStatus(await client.delete(`/sqlite-databases/${dbId}/connection-tokens/${created["id"]}`), 204)
    const after = expectJson(await client.get(`/sqlite-databases/${dbId}/connection-tokens`), 200)
    expect((after["tokens"] as Array<Record<string, unknown>>).find((t) => t["id"] === created["id"])!["revoked"]).toBe(true)
    expectError(await client.delete(`/sqlite-databases/${dbId}/connection-tokens/dbt-nope`), 404)

    const pipeline = await fetch(`${created["url"]}v2/pipeline`, {
      method: "POST",
      headers: { authorization: `Bearer ${created["auth_token"]}`, "content-type": "application/json" },
      body: JSON.stringify({ baton: null, requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] })
    })
    expect(pipeline.status).toBe(401)
    expect(((await pipeline.json()) as { message: string }).message).toContain("Invalid connection token")
  })

  it("GET /:id/file is gzip with X-Heyo-Data-Version; PUT checks expected_version (409 {current_version}) or force", async () => {
    const checkout = await fetch(`${heyod.url}/sqlite-databases/${dbId}/file`, { headers: { authorization: `Bearer ${KEY}` } })
    expect(checkout.status).toBe(200)
    const version = checkout.headers.get("x-heyo-data-version")
    expect(version).toMatch(/^\d+$/)
    const sqlite = zlib.gunzipSync(Buffer.from(await checkout.arrayBuffer()))
    expect(sqlite.subarray(0, 16).toString("latin1")).toBe("SQLite format 3\u0000")

    const put = (query: string, body: Uint8Array) =>
      fetch(`${heyod.url}/sqlite-databases/${dbId}/file${query}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/gzip" },
        body: new Uint8Array(body)
      })
    const gz = zlib.gzipSync(sqlite)
    const stale = await put(`?expected_version=${Number(version) - 1}`, gz)
    expect(stale.status, await stale.clone().text()).toBe(409)
    expect(((await stale.json()) as Record<string, unknown>)["current_version"]).toBe(Number(version))

    const neither = await put("", gz)
    expect(neither.status).toBe(400)
    const corrupt = await put("?force=true", zlib.gzipSync(Buffer.from("definitely not sqlite".repeat(100))))
    expect(corrupt.status).toBe(400)
    const notGzip = await put("?force=true", Buffer.from("plain"))
    expect(notGzip.status).toBe(400)

    const ok = await put(`?expected_version=${version}`, gz)
    expect(ok.status).toBe(200)
    const body = (await ok.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(["data_version", "database_id", "forced", "s3_key"])
    expect(body).toMatchObject({ database_id: dbId, data_version: Number(version) + 1, forced: false })
    const forced = (await (await put("?force=true", gz)).json()) as Record<string, unknown>
    expect(forced["forced"]).toBe(true)
  })

  it("DELETE /sqlite-databases/:id is 204, then the database is 404", async () => {
    expectStatus(await client.delete(`/sqlite-databases/${dbId}`), 204)
    const gone = await client.get(`/sqlite-databases/${dbId}`)
    expectError(gone, 404)
    expect(show(gone)).toContain("404")
    expectError(await client.delete(`/sqlite-databases/${dbId}`), 404)
  })
})
