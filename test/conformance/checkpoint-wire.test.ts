/**
 * Checkpoint routes on the raw wire, from the reference documents: Sprites
 * (reference/sprites-api.md §2.7, §4.6, §4.10, §9.11) and Heyo's cold store
 * (reference/heyo-api.md §2.1, §3). Plain fetch and hand-written JSON: no SDK, no protocol schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { Client, expectError, expectSandboxInfo, expectStatus, isRecord, type Reply, Sandboxes, show, stopAndCheck } from "./Wire.js"

const KEY = "checkpoint-wire-key"
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** The Sprites error body (§4.10): `{error, message}`, both non-empty strings. */
const expectSpritesError = (reply: Reply, status: number, code: string) => {
  expectStatus(reply, status)
  expect(reply.contentType, show(reply)).toMatch(/^application\/json/)
  expect(isRecord(reply.json), show(reply)).toBe(true)
  const body = reply.json as Record<string, unknown>
  expect(body["error"], show(reply)).toBe(code)
  expect(typeof body["message"] === "string" && body["message"].length > 0, show(reply)).toBe(true)
}

/** An NDJSON stream (§4.6): every line a StreamMessage, `time` RFC 3339; returns the lines. */
const expectNdjson = (reply: Reply): Array<Record<string, unknown>> => {
  expectStatus(reply, 200)
  expect(reply.contentType, show(reply)).toMatch(/^application\/x-ndjson/)
  const lines = reply.text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>)
  expect(lines.length, show(reply)).toBeGreaterThan(0)
  for (const line of lines) {
    expect(["info", "complete", "error", "stdout", "stderr"], show(reply)).toContain(line["type"])
    if (line["type"] === "error") expect(typeof line["error"], show(reply)).toBe("string")
    else expect(typeof line["data"], show(reply)).toBe("string")
    expect(String(line["time"]), show(reply)).toMatch(rfc3339)
  }
  // exactly one outcome, last
  const outcomes = lines.filter((l) => l["type"] === "complete" || l["type"] === "error")
  expect(outcomes.length, show(reply)).toBe(1)
  expect(outcomes[0], show(reply)).toBe(lines.at(-1))
  return lines
}

/** The checkpoint object of §2.7, exactly. */
const expectCheckpoint = (value: unknown, context: string) => {
  expect(isRecord(value), context).toBe(true)
  const c = value as Record<string, unknown>
  expect(Object.keys(c).sort(), context).toEqual(
    ["comment", "create_time", "health", "history", "id", "is_auto", "source_id"]
  )
  expect(typeof c["id"], context).toBe("string")
  expect(String(c["create_time"]), context).toMatch(rfc3339)
  expect(typeof c["comment"], context).toBe("string")
  expect(Array.isArray(c["history"]) && (c["history"] as Array<unknown>).every((h) => typeof h === "string"), context).toBe(true)
  expect(typeof c["is_auto"], context).toBe("boolean")
  expect(typeof c["source_id"], context).toBe("string")
  expect(c["health"], context).toBe("")
  return c
}

describe("checkpoint routes on the wire", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  let id: string
  const name = "wire-ck"

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    client = new Client(heyod.url, KEY)
    sandboxes = new Sandboxes(client)
    id = await sandboxes.running({ name, size_class: "micro" })
  })
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killAll()
    await stopAndCheck(heyod)
  })

  it("GET /capabilities lists the checkpoints extension", async () => {
    const reply = await client.get("/capabilities")
    expect((reply.json as Record<string, unknown>)["features"], show(reply)).toContain("checkpoints")
  })

  it("POST /v1/sprites/{name}/checkpoint: 200 NDJSON, info lines then `complete` naming v0, v1...", async () => {
    const first = expectNdjson(await client.post(`/v1/sprites/${name}/checkpoint`, {}))
    expect(first.some((l) => l["type"] === "info")).toBe(true)
    expect(first.at(-1)).toMatchObject({ type: "complete", data: "Checkpoint v0 created" })
    // by id as well as by name; a comment
    const second = expectNdjson(await client.post(`/v1/sprites/${id}/checkpoint`, { comment: "second one" }))
    expect(second.at(-1)).toMatchObject({ type: "complete", data: "Checkpoint v1 created" })
    // the SDKs post `{}`, and an empty body is the same
    const third = expectNdjson(await client.request("POST", `/v1/sprites/${name}/checkpoint`))
    expect(third.at(-1)).toMatchObject({ type: "complete", data: "Checkpoint v2 created" })
  })

  it("every Sprites response carries Sprite-Version", async () => {
    const response = await fetch(`${heyod.url}/v1/sprites/${name}/checkpoints`, { headers: { Authorization: `Bearer ${KEY}` } })
    expect(response.headers.get("sprite-version")).toBeTruthy()
  })

  it("GET .../checkpoints: a bare array of §2.7 objects, newest first, history and source_id chained", async () => {
    const reply = await client.get(`/v1/sprites/${name}/checkpoints`)
    expectStatus(reply, 200)
    expect(Array.isArray(reply.json), show(reply)).toBe(true)
    const list = (reply.json as Array<unknown>).map((c, i) => expectCheckpoint(c, `${show(reply)} [${i}]`))
    expect(list.map((c) => c["id"])).toEqual(["v2", "v1", "v0"])
    expect(list[1]!["comment"]).toBe("second one")
    expect(list[0]!["source_id"]).toBe("v1")
    expect(list[0]!["history"]).toEqual(["v1", "v0"])
    expect(list.every((c) => c["is_auto"] === false)).toBe(true)
  })

  it("GET .../checkpoints/{id}: the object, or a Sprites 404", async () => {
    const reply = await client.get(`/v1/sprites/${name}/checkpoints/v1`)
    expectStatus(reply, 200)
    expect(expectCheckpoint(reply.json, show(reply))["id"]).toBe("v1")
    expectSpritesError(await client.get(`/v1/sprites/${name}/checkpoints/v77`), 404, "not_found")
  })

  it("POST .../checkpoints/{id}/restore: NDJSON ending in `complete`; the filesystem is the checkpoint's", async () => {
    expectStatus(await client.post(`/sandbox/${id}/exec`, { command: "mkdir -p /workspace && echo v3 > /workspace/f" }), 200)
    expect(expectNdjson(await client.post(`/v1/sprites/${name}/checkpoint`, {})).at(-1)).toMatchObject({ type: "complete" })
    expectStatus(await client.post(`/sandbox/${id}/exec`, { command: "echo later > /workspace/f" }), 200)
    const lines = expectNdjson(await client.request("POST", `/v1/sprites/${name}/checkpoints/v3/restore`))
    expect(lines.at(-1)!["type"], JSON.stringify(lines)).toBe("complete")
    const info = await client.get(`/deployed-sandboxes/${id}`)
    expect((info.json as Record<string, unknown>)["status"]).toBe("running")
    const cat = await client.post(`/sandbox/${id}/exec`, { command: "cat /workspace/f" })
    expect((cat.json as Record<string, unknown>)["stdout"]).toBe("v3\n")
  })

  it("a restore that fails is an `error` line inside a 200 stream (§9.11)", async () => {
    const lines = expectNdjson(await client.request("POST", `/v1/sprites/${name}/checkpoints/v404/restore`))
    const last = lines.at(-1)!
    expect(last["type"]).toBe("error")
    expect(String(last["error"])).toMatch(/v404.*not found/)
  })

  it("DELETE .../checkpoints/{id}: 204; the current one 409; an unknown one 404", async () => {
    expectSpritesError(await client.delete(`/v1/sprites/${name}/checkpoints/v3`), 409, "conflict")
    const deleted = await client.delete(`/v1/sprites/${name}/checkpoints/v0`)
    expectStatus(deleted, 204)
    expect(deleted.text).toBe("")
    expectSpritesError(await client.delete(`/v1/sprites/${name}/checkpoints/v0`), 404, "not_found")
  })

  it("refusals before the stream: unknown sprite 404, bad body 400, no key 401, all as {error, message}", async () => {
    expectSpritesError(await client.post("/v1/sprites/nobody/checkpoint", {}), 404, "not_found")
    expectSpritesError(await client.request("POST", "/v1/sprites/nobody/checkpoints/v0/restore"), 404, "not_found")
    expectSpritesError(await client.get("/v1/sprites/nobody/checkpoints"), 404, "not_found")
    expectSpritesError(await client.request("POST", `/v1/sprites/${name}/checkpoint`, { raw: "{not json" }), 400, "bad_request")
    expectSpritesError(await client.post(`/v1/sprites/${name}/checkpoint`, { comment: 42 }), 400, "bad_request")
    expectSpritesError(await client.get(`/v1/sprites/${name}/checkpoints`, { authorization: null }), 401, "unauthorized")
    expectSpritesError(await client.get(`/v1/sprites/${name}/checkpoints?includeAuto=maybe`), 400, "bad_request")
  })

  it("Heyo POST /deployed-sandboxes/:id/checkpoint: SandboxInfo `cold-stored`; /restore: `running`", async () => {
    const cold = await client.post(`/deployed-sandboxes/${id}/checkpoint`)
    expectStatus(cold, 200)
    expect(expectSandboxInfo(cold.json, show(cold))["status"]).toBe("cold-stored")
    expect((await client.get(`/deployed-sandboxes/${id}`)).json).toMatchObject({ status: "cold-stored" })
    expectError(await client.post(`/sandbox/${id}/exec`, { command: "true" }), 409, "cold-stored")
    // the automatic checkpoint of the cold store: listed only with includeAuto=true
    const all = await client.get(`/v1/sprites/${name}/checkpoints?includeAuto=true`)
    const autos = (all.json as Array<Record<string, unknown>>).filter((c) => c["is_auto"] === true)
    expect(autos.length, show(all)).toBe(1)
    expect(String(autos[0]!["id"])).toMatch(/^auto-\d+$/)
    const visible = await client.get(`/v1/sprites/${name}/checkpoints`)
    expect((visible.json as Array<Record<string, unknown>>).some((c) => c["is_auto"] === true)).toBe(false)

    const back = await client.post(`/deployed-sandboxes/${id}/restore`)
    expectStatus(back, 200)
    expect(expectSandboxInfo(back.json, show(back))["status"]).toBe("running")
    expectError(await client.post("/deployed-sandboxes/sb-nothere0/checkpoint"), 404)
    expectError(await client.post("/deployed-sandboxes/sb-nothere0/restore"), 404)
  })
})
