/**
 * The Sprites network policy routes on the raw wire (reference/sprites-api.md §2.8, §4.10, §9.3),
 * the Heyo create-body extension `network_policy`, and heyod's `--egress-default deny`, against a
 * heyod with no test resolver: the refusal of loopback and private addresses is the real one.
 * Plain fetch and hand-written JSON: no SDK, no protocol schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { Client, expectStatus, isRecord, type Reply, Sandboxes, show, stopAndCheck } from "./Wire.js"

const KEY = "network-policy-wire-key"

const expectSpritesError = (reply: Reply, status: number, code: string) => {
  expectStatus(reply, status)
  expect(reply.contentType, show(reply)).toMatch(/^application\/json/)
  expect(isRecord(reply.json), show(reply)).toBe(true)
  const body = reply.json as Record<string, unknown>
  expect(body["error"], show(reply)).toBe(code)
  expect(typeof body["message"] === "string" && body["message"].length > 0, show(reply)).toBe(true)
  return String(body["message"])
}

describe("network policy routes on the wire (heyod --egress-default deny)", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  let id: string
  const name = "wire-net"
  const route = `/v1/sprites/${name}/policy/network`

  const exec = async (command: string) => {
    const reply = await client.post(`/sandbox/${id}/exec`, { command })
    expectStatus(reply, 200)
    return reply.json as { stdout: string; stderr: string; exit_code: number }
  }

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY, args: ["--egress-default", "deny"] })
    client = new Client(heyod.url, KEY)
    sandboxes = new Sandboxes(client)
    id = await sandboxes.running({ name, size_class: "micro" })
  })
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killAll()
    await stopAndCheck(heyod)
  })

  it("GET /capabilities lists the network-policy extension", async () => {
    const reply = await client.get("/capabilities")
    expect((reply.json as Record<string, unknown>)["features"], show(reply)).toContain("network-policy")
  })

  it("a new sandbox under --egress-default deny starts with `*` denied; GET answers {rules}", async () => {
    const reply = await client.get(route)
    expectStatus(reply, 200)
    expect(reply.contentType, show(reply)).toMatch(/^application\/json/)
    expect(reply.json, show(reply)).toEqual({ rules: [{ domain: "*", action: "deny" }] })
    // by id as well as by name
    expect((await client.get(`/v1/sprites/${id}/policy/network`)).json).toEqual(reply.json)
    // denied before any lookup: no DNS for example.com is ever attempted
    const out = await exec("curl -sS -m 5 -o /dev/null -w '%{http_code}' http://example.com/")
    expect(out.stdout, JSON.stringify(out)).toBe("403")
  })

  it("POST replaces the whole policy and answers 204 with an empty body", async () => {
    const rules = [
      { domain: "github.com", action: "allow" },
      { include: "defaults" },
      { domain: "*.internal.example", action: "deny" },
      { domain: "*", action: "deny" }
    ]
    const set = await client.post(route, { rules })
    expectStatus(set, 204)
    expect(set.text, show(set)).toBe("")
    expect((await client.get(route)).json).toEqual({ rules })
    const inside = await exec("cat /.sprite/policy/network.json")
    expect(JSON.parse(inside.stdout)).toEqual({ rules })
    // domains are case-insensitive and stored lower-cased
    expectStatus(await client.post(route, { rules: [{ domain: "API.Example.COM", action: "allow" }] }), 204)
    expect((await client.get(route)).json).toEqual({ rules: [{ domain: "api.example.com", action: "allow" }] })
  })

  it("invalid policies are 400 {error, message}; the policy in force is unchanged", async () => {
    expectStatus(await client.post(route, { rules: [{ domain: "keep.example", action: "deny" }] }), 204)
    for (const body of [
      { rules: [{ domain: "not a host", action: "allow" }] },
      { rules: [{ domain: "x.example", action: "block" }] },
      { rules: [{ domain: "x.example", action: "allow", include: "defaults" }] },
      { rules: [{ include: "everything" }] },
      { rules: "all" },
      {}
    ]) {
      const message = expectSpritesError(await client.post(route, body), 400, "bad_request")
      expect(message.length).toBeGreaterThan(0)
    }
    expectSpritesError(await client.request("POST", route, { raw: "{not json" }), 400, "bad_request")
    expect((await client.get(route)).json).toEqual({ rules: [{ domain: "keep.example", action: "deny" }] })
  })

  it("an unknown sprite is 404 not_found", async () => {
    expectSpritesError(await client.get("/v1/sprites/no-such-sprite/policy/network"), 404, "not_found")
    expectSpritesError(await client.post("/v1/sprites/no-such-sprite/policy/network", { rules: [] }), 404, "not_found")
  })

  it("with {rules: []}, loopback, private and metadata addresses are still refused by the proxy", async () => {
    expectStatus(await client.post(route, { rules: [] }), 204)
    for (const url of ["http://127.0.0.1:1/", "http://localhost:1/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/"]) {
      const out = await exec(`curl -sS -m 5 --noproxy '' -x http://127.0.0.1:3128 -w ' %{http_code}' ${url}`)
      expect(out.stdout, `${url}: ${JSON.stringify(out)}`).toMatch(/"error":"egress_address_refused".* 403$/s)
    }
    const direct = await exec("curl -sS -m 5 --noproxy '*' http://10.0.0.1/ ; echo rc=$?")
    expect(direct.stdout, JSON.stringify(direct)).toContain("rc=7")
  })

  it("POST /sandbox-deploy takes network_policy; a malformed one is a Heyo 400 {message}", async () => {
    const created = await sandboxes.deploy({
      name: "wire-net-initial",
      size_class: "micro",
      network_policy: { rules: [{ domain: "allowed.example", action: "allow" }] }
    })
    const got = await client.get(`/v1/sprites/${created}/policy/network`)
    expect(got.json, show(got)).toEqual({ rules: [{ domain: "allowed.example", action: "allow" }] })
    const bad = await client.post("/sandbox-deploy", { name: "wire-net-bad", network_policy: { rules: [{ domain: "*x", action: "allow" }] } })
    expectStatus(bad, 400)
    expect(String((bad.json as Record<string, unknown>)["message"]), show(bad)).toContain("network_policy")
  })
})
