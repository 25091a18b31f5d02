/**
 * Private networks on the raw wire, written from reference/heyo-api.md §2.7 and §2.9: every route
 * of networks, members and the services registry, with the documented shapes (NetworkInfo,
 * NetworkMember, NetworkService, ServiceRoute), the default network's refusals, idempotent
 * members, the bare-array service list, and dial's 409. Plain fetch and hand-written JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { Client, expectError, expectJson, expectStatus, isRecord, Sandboxes, show, stopAndCheck } from "./Wire.js"

const KEY = "networks-wire-key"
const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/

const expectNetworkInfo = (value: unknown, context: string) => {
  expect(isRecord(value), context).toBe(true)
  const info = value as Record<string, unknown>
  expect(Object.keys(info).sort(), context).toEqual(
    ["account_id", "created_at", "description", "id", "is_default", "name", "updated_at"]
  )
  expect(typeof info["id"], context).toBe("string")
  expect(typeof info["account_id"], context).toBe("string")
  expect(typeof info["name"], context).toBe("string")
  expect(typeof info["is_default"], context).toBe("boolean")
  expect(info["description"] === null || typeof info["description"] === "string", context).toBe(true)
  expect(String(info["created_at"]), context).toMatch(iso)
  expect(String(info["updated_at"]), context).toMatch(iso)
  return info
}

const expectService = (value: unknown, context: string) => {
  expect(isRecord(value), context).toBe(true)
  const service = value as Record<string, unknown>
  for (const key of ["id", "network_id", "name", "address", "sandbox_kind", "sandbox_ref", "protocol", "status"]) {
    expect(typeof service[key], `${key} in ${context}`).toBe("string")
  }
  expect(typeof service["port"], context).toBe("number")
  expect(service["address"], context).toBe(`${service["name"]}:${service["port"]}`)
  expect("connection_url" in service, context).toBe(true)
  return service
}

describe("Heyo networks, members and services on the wire", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  let id: string
  let defaultId: string

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    client = new Client(heyod.url, KEY)
    sandboxes = new Sandboxes(client)
    id = await sandboxes.running({ name: "wire-networks", size_class: "micro" })
  }, 60_000)
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killAll()
    await stopAndCheck(heyod)
  })

  it("GET /networks lists existing rows only; GET /networks/me creates the default lazily, once", async () => {
    const before = expectJson(await client.get("/networks"), 200)
    expect(before).toEqual({ networks: [] })
    const me = expectNetworkInfo(expectJson(await client.get("/networks/me"), 200), "GET /networks/me")
    expect(me["is_default"]).toBe(true)
    defaultId = String(me["id"])
    const again = expectJson(await client.get("/networks/me"), 200)
    expect(again["id"]).toBe(defaultId)
    const after = expectJson(await client.get("/networks"), 200)
    expect((after["networks"] as Array<Record<string, unknown>>).map((n) => n["id"])).toEqual([defaultId])
  })

  it("POST /networks -> NetworkInfo; GET, PATCH (null clears the description), DELETE /networks/:id", async () => {
    const created = expectNetworkInfo(
      expectJson(await client.post("/networks", { name: "lab", description: "test bench" }), 200),
      "POST /networks"
    )
    expect(created).toMatchObject({ name: "lab", description: "test bench", is_default: false })
    const netId = String(created["id"])
    expectNetworkInfo(expectJson(await client.get(`/networks/${netId}`), 200), "GET /networks/:id")
    const renamed = expectJson(await client.request("PATCH", `/networks/${netId}`, { body: { name: "lab2" } }), 200)
    expect(renamed).toMatchObject({ name: "lab2", description: "test bench" })
    const cleared = expectJson(await client.request("PATCH", `/networks/${netId}`, { body: { description: null } }), 200)
    expect(cleared).toMatchObject({ name: "lab2", description: null })
    expectStatus(await client.delete(`/networks/${netId}`), 204)
    expectError(await client.get(`/networks/${netId}`), 404, netId)
    expectError(await client.post("/networks", { description: "no name" }), 400, "name")
  })

  it("the default network refuses a rename and a delete with 400", async () => {
    expectError(await client.request("PATCH", `/networks/${defaultId}`, { body: { name: "other" } }), 400, "default")
    expectError(await client.delete(`/networks/${defaultId}`), 400, "default")
    const described = expectJson(await client.request("PATCH", `/networks/${defaultId}`, { body: { description: "mine" } }), 200)
    expect(described["description"]).toBe("mine")
  })

  it("members: idempotent add (device_name updated), list, remove; unknown sandbox 404, bad kind 400", async () => {
    const first = expectJson(await client.post(`/networks/${defaultId}/members`, { sandbox_kind: "local", sandbox_ref: id }), 200)
    expect(Object.keys(first).sort()).toEqual(["device_name", "last_seen_at", "network_id", "registered_at", "sandbox_kind", "sandbox_ref"])
    expect(first).toMatchObject({ network_id: defaultId, sandbox_kind: "local", sandbox_ref: id, device_name: null })
    const second = expectJson(
      await client.post(`/networks/${defaultId}/members`, { sandbox_kind: "local", sandbox_ref: id, device_name: "box" }),
      200
    )
    expect(second).toMatchObject({ device_name: "box", registered_at: first["registered_at"] })
    const listed = expectJson(await client.get(`/networks/${defaultId}/members`), 200)
    expect(listed["members"]).toHaveLength(1)
    expectError(await client.post(`/networks/${defaultId}/members`, { sandbox_kind: "local", sandbox_ref: "sb-nothere" }), 404)
    expectError(await client.post(`/networks/${defaultId}/members`, { sandbox_kind: "toaster", sandbox_ref: id }), 400, "sandbox_kind")
    expectError(await client.post(`/networks/net-unknown/members`, { sandbox_kind: "local", sandbox_ref: id }), 404, "net-unknown")
    expectStatus(await client.delete(`/networks/${defaultId}/members/local/${id}`), 204)
    expect(expectJson(await client.get(`/networks/${defaultId}/members`), 200)["members"]).toEqual([])
  })

  it("services: register, list as a bare array, resolve, dial, remove", async () => {
    expectJson(await client.post(`/networks/${defaultId}/members`, { sandbox_kind: "local", sandbox_ref: id }), 200)
    const registered = await client.post("/networks/me/services", { name: "cache", sandbox_kind: "local", sandbox_ref: id, port: 6379 })
    const service = expectService(expectJson(registered, 200), show(registered))
    expect(service).toMatchObject({
      network_id: defaultId, name: "cache", address: "cache:6379", sandbox_kind: "local", sandbox_ref: id,
      port: 6379, protocol: "tcp", status: "active", transport: "iroh_tcp_proxy"
    })
    expect(String(service["connection_url"])).toMatch(/^heyo:\/\/[a-z0-9]{64,}$/)
    const list = await client.get("/networks/me/services")
    expectStatus(list, 200)
    expect(Array.isArray(list.json), show(list)).toBe(true)
    expect((list.json as Array<unknown>).map((s) => expectService(s, show(list))["name"])).toEqual(["cache"])
    const resolved = expectService(expectJson(await client.get("/networks/me/services/cache/6379"), 200), "resolve")
    expect(resolved["id"]).toBe(service["id"])
    const route = expectJson(await client.get("/networks/me/services/cache/6379/dial"), 200)
    expect(Object.keys(route).sort()).toEqual(["address", "connection_url", "transport"])
    expect(route).toMatchObject({ address: "cache:6379", transport: "iroh_tcp_proxy", connection_url: service["connection_url"] })
    const wsRoute = expectJson(await client.get("/networks/me/services/cache/6379/dial?transport=ws"), 200)
    expect(wsRoute).toMatchObject({ address: "cache:6379", transport: "ws_tcp_proxy" })
    expect(String(wsRoute["connection_url"])).toMatch(new RegExp(`^heyo\\+ws://127\\.0\\.0\\.1:${heyod.port}/tunnels/${id}/6379\\?grant=`))
    expectError(await client.get("/networks/me/services/cache/6379/dial?transport=carrier-pigeon"), 400, "transport")
    expectError(await client.get("/networks/me/services/cache/1"), 404, "cache:1")
    expectError(await client.get("/networks/me/services/cache/1/dial"), 404, "cache:1")
    expectError(await client.get("/networks/me/services/cache/notaport"), 400, "port")
    expectError(await client.post("/networks/me/services", { name: "Bad Name!", sandbox_kind: "local", sandbox_ref: id, port: 1 }), 400, "name")
    expectError(await client.post("/networks/me/services", { name: "x", sandbox_kind: "local", sandbox_ref: id, port: 70000 }), 400, "port")
    expectStatus(await client.delete("/networks/me/services/cache/6379"), 204)
    expect((await client.get("/networks/me/services")).json).toEqual([])
  })

  it("dial answers 409 when the service has no live route (its sandbox left the network, or stopped)", async () => {
    expectJson(await client.post("/networks/me/services", { name: "web", sandbox_kind: "local", sandbox_ref: id, port: 8080 }), 200)
    expectStatus(await client.delete(`/networks/me/members/local/${id}`), 204)
    const pending = expectService(expectJson(await client.get("/networks/me/services/web/8080"), 200), "pending")
    expect(pending).toMatchObject({ status: "pending", transport: "agent_proxy_pending", connection_url: null })
    expectError(await client.get("/networks/me/services/web/8080/dial"), 409, "web:8080")
    expectJson(await client.post(`/networks/me/members`, { sandbox_kind: "local", sandbox_ref: id }), 200)
    expectJson(await client.get("/networks/me/services/web/8080/dial"), 200)
    expectStatus(await client.post(`/sandbox/${id}/stop`), 200)
    await sandboxes.waitFor(id, ["stopped"])
    expectError(await client.get("/networks/me/services/web/8080/dial"), 409, "web:8080")
  })

  it("every route needs the API key", async () => {
    for (const path of ["/networks", "/networks/me", "/networks/me/services"]) {
      expectStatus(await client.get(path, { authorization: null }), 401)
    }
  })
})
