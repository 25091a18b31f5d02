/**
 * `/me/daemons` on the raw wire, written from reference/heyo-api.md §2.8, §3 (DaemonStatus) and
 * §5: heyod lists itself as the one daemon (`hd-` id, camelCase keys as the cloud sends them),
 * answers 404 for any other id, hands out a `heyo://` connection ticket under both spellings of
 * its key, and lists its sandboxes in the mixed-case shape. Plain fetch and hand-written JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { Client, expectError, expectJson, expectStatus, isRecord, Sandboxes, stopAndCheck } from "./Wire.js"

const KEY = "daemons-wire-key"
const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/

describe("Heyo daemons on the wire", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  let sandboxId: string

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    client = new Client(heyod.url, KEY)
    sandboxes = new Sandboxes(client)
    sandboxId = await sandboxes.running({ name: "wire-daemons", size_class: "micro" })
  }, 60_000)
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killAll()
    await stopAndCheck(heyod)
  })

  it("GET /me/daemons: {daemons:[DaemonInfo]} with heyod itself, online; GET /me/daemons/:id the same row", async () => {
    const list = expectJson(await client.get("/me/daemons"), 200)
    expect(Object.keys(list)).toEqual(["daemons"])
    const daemons = list["daemons"] as Array<Record<string, unknown>>
    expect(daemons).toHaveLength(1)
    const daemon = daemons[0]!
    expect(Object.keys(daemon).sort()).toEqual(["createdAt", "id", "lastSeenAt", "name", "status"])
    expect(daemon["id"]).toMatch(/^hd-[a-z0-9]+$/)
    expect(daemon["status"]).toBe("online")
    expect(String(daemon["createdAt"])).toMatch(iso)
    expect(String(daemon["lastSeenAt"])).toMatch(iso)
    const one = expectJson(await client.get(`/me/daemons/${daemon["id"]}`), 200)
    expect({ ...one, lastSeenAt: null }).toEqual({ ...daemon, lastSeenAt: null })
    expectError(await client.get("/me/daemons/hd-zzzzzzzz"), 404, "hd-zzzzzzzz")
  })

  it("GET /me/daemons/:id/connection-ticket: {connectionUrl, connection_url} with the same heyo:// ticket, stable", async () => {
    const [daemon] = expectJson(await client.get("/me/daemons"), 200)["daemons"] as Array<Record<string, unknown>>
    const body = expectJson(await client.get(`/me/daemons/${daemon!["id"]}/connection-ticket`), 200)
    expect(Object.keys(body).sort()).toEqual(["connectionUrl", "connection_url"])
    expect(body["connectionUrl"]).toBe(body["connection_url"])
    expect(String(body["connectionUrl"])).toMatch(/^heyo:\/\/endpoint[a-z2-7]{64,}$/)
    const again = expectJson(await client.get(`/me/daemons/${daemon!["id"]}/connection-ticket`), 200)
    expect(again["connectionUrl"]).toBe(body["connectionUrl"])
    expectError(await client.get("/me/daemons/hd-zzzzzzzz/connection-ticket"), 404)
  })

  it("GET /me/daemons/:id/sandboxes: {daemonId, daemonName, sandboxes:[{id,name,status,image,backend_type,is_deployed}]}", async () => {
    const [daemon] = expectJson(await client.get("/me/daemons"), 200)["daemons"] as Array<Record<string, unknown>>
    const body = expectJson(await client.get(`/me/daemons/${daemon!["id"]}/sandboxes`), 200)
    expect(body["daemonId"]).toBe(daemon!["id"])
    expect(body["daemonName"]).toBe(daemon!["name"])
    const rows = body["sandboxes"] as Array<unknown>
    const row = rows.find((r) => isRecord(r) && r["id"] === sandboxId) as Record<string, unknown>
    expect(Object.keys(row).sort()).toEqual(["backend_type", "id", "image", "is_deployed", "name", "status"])
    expect(row).toMatchObject({ name: "wire-daemons", status: "running", is_deployed: true })
  })

  it("DELETE /me/daemons/:id: 204, revokes the ticket (the next one differs); the daemon stays listed; an unknown id is 404", async () => {
    const [daemon] = expectJson(await client.get("/me/daemons"), 200)["daemons"] as Array<Record<string, unknown>>
    const before = expectJson(await client.get(`/me/daemons/${daemon!["id"]}/connection-ticket`), 200)["connectionUrl"]
    expectStatus(await client.delete(`/me/daemons/${daemon!["id"]}`), 204)
    const after = expectJson(await client.get(`/me/daemons/${daemon!["id"]}/connection-ticket`), 200)["connectionUrl"]
    expect(after).not.toBe(before)
    expect((expectJson(await client.get("/me/daemons"), 200)["daemons"] as Array<unknown>)).toHaveLength(1)
    expectError(await client.delete("/me/daemons/hd-zzzzzzzz"), 404)
  })

  it("every route needs the API key", async () => {
    expectStatus(await client.get("/me/daemons", { authorization: null }), 401)
  })
})
