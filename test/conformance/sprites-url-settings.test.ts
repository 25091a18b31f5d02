/**
 * Sprites `PUT /v1/sprites/{name}` with `url_settings` (reference/sprites-api.md §2.1, §2.5, §4
 * UrlAuth) on the raw wire: `auth: "public"` serves the sprite URL (heyod: the bound URL of port
 * 8080, by Host header) to anyone, `auth: "sprite"` only with the API key; the Sprite object
 * reports `url` and `url_settings`. Plain fetch, hand-written JSON, a real sandbox.
 */
import * as http from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { Client, exec, expectJson, expectStatus, isRecord, type Reply, Sandboxes, show, stopAndCheck } from "./Wire.js"

const KEY = "url-settings-wire-key"

const expectSpritesError = (reply: Reply, status: number, code: string) => {
  expectStatus(reply, status)
  expect(isRecord(reply.json), show(reply)).toBe(true)
  expect((reply.json as Record<string, unknown>)["error"], show(reply)).toBe(code)
}

/** GET through heyod with a Host header (Node does not resolve `*.localhost`). */
const viaHost = (port: number, host: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, path: "/hello.txt", headers: { host, ...headers } }, (response) => {
      let text = ""
      response.setEncoding("utf8").on("data", (d: string) => (text += d))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text }))
    })
    request.on("error", reject)
    request.end()
  })

describe("Sprites url_settings on the wire", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  let id: string
  const name = "wire-url"

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    client = new Client(heyod.url, KEY)
    sandboxes = new Sandboxes(client)
    id = await sandboxes.running({ name, size_class: "micro" })
    await exec(client, id, "mkdir -p /srv && echo hello > /srv/hello.txt && cd /srv && (nohup python3 -m http.server 8080 --bind 127.0.0.1 >/tmp/http.log 2>&1 &)")
  }, 60_000)
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killAll()
    await stopAndCheck(heyod)
  })

  it("a sprite with no URL yet has neither url nor url_settings", async () => {
    const sprite = expectJson(await client.get(`/v1/sprites/${name}`), 200)
    expect(sprite["url"]).toBeUndefined()
    expect(sprite["url_settings"]).toBeUndefined()
  })

  it("auth public: 200 Sprite with url and url_settings; the URL serves anyone", async () => {
    const reply = await client.request("PUT", `/v1/sprites/${name}`, { body: { url_settings: { auth: "public" } } })
    const sprite = expectJson(reply, 200)
    expect(sprite["name"]).toBe(name)
    expect(sprite["url_settings"]).toEqual({ auth: "public" })
    expect(sprite["url"]).toBe(`http://${id}-8080.localhost:${heyod.port}`)
    const host = `${id}-8080.localhost:${heyod.port}`
    let served = { status: 0, text: "" }
    for (let i = 0; i < 100 && served.status !== 200; i++) {
      served = await viaHost(heyod.port, host)
      if (served.status !== 200) await new Promise((r) => setTimeout(r, 100))
    }
    expect(served).toEqual({ status: 200, text: "hello\n" })
  })

  it("auth sprite: the URL refuses anonymous requests and serves the key; GET shows the setting", async () => {
    const sprite = expectJson(await client.request("PUT", `/v1/sprites/${id}`, { body: { url_settings: { auth: "sprite" } } }), 200)
    expect(sprite["url_settings"]).toEqual({ auth: "sprite" })
    const host = `${id}-8080.localhost:${heyod.port}`
    expect((await viaHost(heyod.port, host)).status).toBe(401)
    expect(await viaHost(heyod.port, host, { authorization: `Bearer ${KEY}` })).toEqual({ status: 200, text: "hello\n" })
    expect(expectJson(await client.get(`/v1/sprites/${name}`), 200)["url_settings"]).toEqual({ auth: "sprite" })
    // omitted fields are unchanged
    const same = expectJson(await client.request("PUT", `/v1/sprites/${name}`, { body: { url_settings: { private_access: "admins" } } }), 200)
    expect(same["url_settings"]).toEqual({ auth: "sprite" })
    expect(expectJson(await client.request("PUT", `/v1/sprites/${name}`, { body: {} }), 200)["url_settings"]).toEqual({ auth: "sprite" })
  })

  it("refusals: bad auth 400, labels 400 (heyod keeps none), unknown sprite 404, no key 401", async () => {
    expectSpritesError(await client.request("PUT", `/v1/sprites/${name}`, { body: { url_settings: { auth: "everyone" } } }), 400, "bad_request")
    expectSpritesError(await client.request("PUT", `/v1/sprites/${name}`, { body: { labels: ["prod"] } }), 400, "bad_request")
    expectSpritesError(await client.request("PUT", "/v1/sprites/no-such-sprite", { body: { url_settings: { auth: "public" } } }), 404, "not_found")
    expectStatus(await client.request("PUT", `/v1/sprites/${name}`, { body: { url_settings: { auth: "public" } }, authorization: null }), 401)
  })
})
