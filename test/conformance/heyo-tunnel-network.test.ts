/**
 * Tunnels and bound URLs on the raw wire, from the reference documents: Heyo
 * `POST /sandboxes/:id/tcp-tunnel` (reference/heyo-api.md §2.5, §5; heyod's `heyo+ws://`
 * tickets), `POST /proxy-endpoints/for-deployed` and `SandboxInfo.urls` (§2.1 BoundUrl), and
 * the Sprites TCP proxy's refusals (reference/sprites-api.md §2.12). Plain fetch and hand-written
 * JSON: no SDK, no protocol schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import * as Heyod from "../support/Heyod.js"
import { Client, expectError, expectJson, expectStatus, isRecord, Sandboxes, show, stopAndCheck } from "./Wire.js"

const KEY = "tunnel-wire-key"

/** The status a WebSocket upgrade gets (101 when it opens). */
const upgradeStatus = (url: string, headers: Record<string, string> = {}) =>
  new Promise<number>((resolve) => {
    const ws = new WebSocket(url, { headers })
    ws.on("unexpected-response", (request, response) => {
      resolve(response.statusCode ?? 0)
      request.destroy()
    })
    ws.on("open", () => {
      resolve(101)
      ws.terminate()
    })
    ws.on("error", () => resolve(-1))
  })

describe("tunnels and bound URLs on the wire", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  let id: string
  const name = "wire-tunnel"

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    client = new Client(heyod.url, KEY)
    sandboxes = new Sandboxes(client)
    id = await sandboxes.running({ name, size_class: "micro", open_ports: [3000] })
  })
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killAll()
    await stopAndCheck(heyod)
  })

  it("GET /capabilities lists the tunnels extension", async () => {
    const reply = await client.get("/capabilities")
    expect((reply.json as Record<string, unknown>)["features"], show(reply)).toContain("tunnels")
  })

  it("POST /sandboxes/:id/tcp-tunnel: by default a heyo:// iroh EndpointTicket, the same on repeat", async () => {
    const first = expectJson(await client.post(`/sandboxes/${id}/tcp-tunnel`, { port: 5432 }), 200)
    expect(Object.keys(first)).toEqual(["connection_url"])
    const ticket = String(first["connection_url"])
    expect(ticket).toMatch(/^heyo:\/\/endpoint[a-z2-7]{60,}$/)
    const again = expectJson(await client.post(`/sandboxes/${id}/tcp-tunnel`, { port: 5432 }), 200)
    expect(again["connection_url"]).toBe(ticket)
    const other = expectJson(await client.post(`/sandboxes/${id}/tcp-tunnel`, { port: 5433 }), 200)
    expect(other["connection_url"]).not.toBe(ticket)
    expectError(await client.post(`/sandboxes/${id}/tcp-tunnel`, { port: 5432, transport: "quic" }), 400)
  })

  it("POST /sandboxes/:id/tcp-tunnel {transport:\"ws\"}: 200 {connection_url} with a heyo+ws:// ticket, the same on repeat", async () => {
    const first = expectJson(await client.post(`/sandboxes/${id}/tcp-tunnel`, { port: 5432, transport: "ws" }), 200)
    expect(Object.keys(first)).toEqual(["connection_url"])
    const ticket = String(first["connection_url"])
    expect(ticket).toMatch(new RegExp(`^heyo\\+ws://127\\.0\\.0\\.1:${heyod.port}/tunnels/${id}/5432\\?grant=[A-Za-z0-9_-]+$`))
    expect(ticket.startsWith("heyo://")).toBe(false)
    const again = expectJson(await client.post(`/sandboxes/${id}/tcp-tunnel`, { port: 5432, transport: "ws" }), 200)
    expect(again["connection_url"]).toBe(ticket)
    const other = expectJson(await client.post(`/sandboxes/${id}/tcp-tunnel`, { port: 5433, transport: "ws" }), 200)
    expect(other["connection_url"]).not.toBe(ticket)
  })

  it("tcp-tunnel refusals: a bad port is 400, an unknown sandbox 404, no key 401 ({message})", async () => {
    for (const body of [{}, { port: 0 }, { port: 65536 }, { port: "80" }]) {
      expectError(await client.post(`/sandboxes/${id}/tcp-tunnel`, body), 400)
    }
    expectError(await client.post("/sandboxes/sb-00000000/tcp-tunnel", { port: 80 }), 404)
    expectError(await client.request("POST", `/sandboxes/${id}/tcp-tunnel`, { body: { port: 80 }, authorization: null }), 401)
  })

  it("a ticket's socket needs its grant, not the key; DELETE .../tcp-tunnel/:port (204) revokes it", async () => {
    const ticket = String(expectJson(await client.post(`/sandboxes/${id}/tcp-tunnel`, { port: 6000, transport: "ws" }), 200)["connection_url"])
    const ws = ticket.replace(/^heyo\+ws:/, "ws:")
    const noGrant = ws.replace(/\?grant=.*$/, "")
    expect(await upgradeStatus(noGrant, { authorization: `Bearer ${KEY}` }), "the API key is not a grant").toBe(401)
    // a wrong grant: the real one with its first character changed (never to itself)
    const wrongGrant = ws.replace(/grant=(.)/, (_, c: string) => `grant=${c === "x" ? "y" : "x"}`)
    expect(wrongGrant).not.toBe(ws)
    expect(await upgradeStatus(wrongGrant)).toBe(401)
    // a plain GET with the right grant: 400, it needs an upgrade
    expectError(await client.request("GET", new URL(ticket.replace(/^heyo\+ws:/, "http:")).pathname + new URL(ticket.replace(/^heyo\+ws:/, "http:")).search, { authorization: null }), 400)
    const revoke = await client.request("DELETE", `/sandboxes/${id}/tcp-tunnel/6000`)
    expectStatus(revoke, 204)
    expect(revoke.text, show(revoke)).toBe("")
    expect(await upgradeStatus(ws)).toBe(401)
    expectError(await client.request("DELETE", `/sandboxes/${id}/tcp-tunnel/0`), 400)
  })

  it("POST /proxy-endpoints/for-deployed: a BoundUrl (+ sandbox_id), listed in SandboxInfo.urls", async () => {
    const bound = expectJson(await client.post("/proxy-endpoints/for-deployed", { sandbox_id: id, port: 8080, is_public: false }), 200)
    expect(Object.keys(bound).sort()).toEqual(["hostname", "is_public", "port", "sandbox_id", "subdomain", "url"])
    expect(bound).toEqual({
      subdomain: `${id}-8080`,
      hostname: `${id}-8080.localhost`,
      url: `http://${id}-8080.localhost:${heyod.port}`,
      port: 8080,
      is_public: false,
      sandbox_id: id
    })
    // is_public defaults to true; rebinding keeps the subdomain
    const again = expectJson(await client.post("/proxy-endpoints/for-deployed", { sandbox_id: id, port: 8080 }), 200)
    expect(again["subdomain"]).toBe(`${id}-8080`)
    expect(again["is_public"]).toBe(true)
    const info = expectJson(await client.get(`/deployed-sandboxes/${id}`), 200)
    const urls = info["urls"] as Array<Record<string, unknown>>
    expect(urls.map((u) => u["port"])).toEqual([3000, 8080])
    for (const url of urls) {
      expect(isRecord(url)).toBe(true)
      expect(Object.keys(url).sort()).toEqual(["hostname", "is_public", "port", "subdomain", "url"])
    }
    const listed = await client.get(`/deployed-sandboxes?name=${name}`)
    expectStatus(listed, 200)
    expect(((listed.json as Array<Record<string, unknown>>)[0]!["urls"] as Array<unknown>).length, show(listed)).toBe(2)
  })

  it("for-deployed refusals: unknown sandbox 404, bad body 400", async () => {
    expectError(await client.post("/proxy-endpoints/for-deployed", { sandbox_id: "sb-00000000", port: 80 }), 404)
    expectError(await client.post("/proxy-endpoints/for-deployed", { port: 80 }), 400)
    expectError(await client.post("/proxy-endpoints/for-deployed", { sandbox_id: id, port: 0 }), 400)
  })

  it("Sprites /proxy: not an upgrade 400, unknown sprite 404, no key 401, a stopped sprite 409 ({error, message})", async () => {
    const route = `/v1/sprites/${name}/proxy`
    const plain = await client.get(route)
    expectStatus(plain, 400)
    expect((plain.json as Record<string, unknown>)["error"]).toBe("bad_request")
    expect(await upgradeStatus(`${heyod.url.replace(/^http/, "ws")}/v1/sprites/nope/proxy`, { authorization: `Bearer ${KEY}` })).toBe(404)
    expect(await upgradeStatus(`${heyod.url.replace(/^http/, "ws")}${route}`)).toBe(401)
    const stopped = await sandboxes.running({ name: "wire-tunnel-stopped", size_class: "micro" })
    expectStatus(await client.post(`/sandbox/${stopped}/stop`), 200)
    expect(await upgradeStatus(`${heyod.url.replace(/^http/, "ws")}/v1/sprites/${stopped}/proxy`, { authorization: `Bearer ${KEY}` })).toBe(409)
  })
})
