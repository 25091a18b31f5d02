/**
 * The Sprites filesystem wire (reference/sprites-api.md §2.10, §4.8, §9.10), spoken raw with
 * `fetch` and `ws`: every route's query or body, success shape and status, the error body
 * `{error, code, path}` with its errno, both delete forms, both write flags, byte ranges, and the
 * watch frames. Written from the reference, not from heyod's schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import * as Heyod from "../support/Heyod.js"
import { Client, expectStatus, isRecord, type Reply, show } from "./Wire.js"

const KEY = "sprites-fs-key"
const NAME = "sprite-fs"
const errnos = ["ENOENT", "EEXIST", "ENOTDIR", "EISDIR", "EACCES", "EPERM", "ENOTEMPTY", "EINVAL", "EIO", "UNKNOWN"]
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** A fs error: the status, and `{error, code, path}` with a human `error` and a listed errno. */
const expectFsError = (reply: Reply, status: number, code: string, path?: string) => {
  expectStatus(reply, status)
  expect(reply.contentType, show(reply)).toMatch(/^application\/json/)
  const body = reply.json as Record<string, unknown>
  expect(isRecord(body), show(reply)).toBe(true)
  expect(typeof body["error"], show(reply)).toBe("string")
  expect(String(body["error"]).length, show(reply)).toBeGreaterThan(0)
  expect(errnos, show(reply)).toContain(body["code"])
  expect(body["code"], show(reply)).toBe(code)
  expect(typeof body["path"], show(reply)).toBe("string")
  if (path !== undefined) expect(body["path"], show(reply)).toBe(path)
}

const expectEntry = (entry: unknown) => {
  expect(isRecord(entry)).toBe(true)
  const e = entry as Record<string, unknown>
  expect(Object.keys(e).sort()).toEqual(["isDir", "modTime", "mode", "name", "path", "size", "type"])
  expect(["file", "directory", "symlink"]).toContain(e["type"])
  expect(Number.isInteger(e["size"])).toBe(true)
  expect(String(e["mode"])).toMatch(/^[0-7]{4}$/)
  expect(String(e["modTime"])).toMatch(rfc3339)
  expect(e["isDir"]).toBe(e["type"] === "directory")
}

describe("Sprites fs wire", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let base = ""
  const fs = (op: string, query: Record<string, string> = {}) =>
    `/v1/sprites/${NAME}/fs/${op}${Object.keys(query).length === 0 ? "" : `?${new URLSearchParams(query)}`}`
  /** A raw-body request (write, read with headers). */
  const raw = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${KEY}`, ...headers },
      ...(body === undefined ? {} : { body })
    })
    return { response, bytes: Buffer.from(await response.arrayBuffer()) }
  }

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    base = heyod.url
    client = new Client(heyod.url, KEY)
    const created = await client.post("/sandbox-deploy", { name: NAME })
    expectStatus(created, 202)
    const id = String((created.json as { id: string }).id)
    for (let i = 0; i < 100; i++) {
      const info = await client.get(`/deployed-sandboxes/${id}`)
      if ((info.json as { status: string }).status === "running") break
      await new Promise((r) => setTimeout(r, 100))
    }
  }, 60_000)
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it("PUT /fs/write: raw body, mode, mkdirParents -> 200 {path, size, mode}", async () => {
    const { bytes, response } = await raw(
      "PUT",
      fs("write", { path: "a/b/c.txt", workingDir: "/workspace", mode: "0640", mkdirParents: "true" }),
      "hello wire",
      { "Content-Type": "application/octet-stream" }
    )
    expect(response.status).toBe(200)
    expect(response.headers.get("sprite-version")).toBeTruthy()
    expect(JSON.parse(bytes.toString())).toEqual({ path: "/workspace/a/b/c.txt", size: 10, mode: "0640" })
    // the docs' flag name works too (§9.10)
    const docs = await raw("PUT", fs("write", { path: "/workspace/x/y.txt", mkdir: "true" }), "y")
    expect(docs.response.status).toBe(200)
    // without it a missing parent is ENOENT
    const noParents = await client.request("PUT", fs("write", { path: "/workspace/none/z.txt" }), { raw: "z" })
    expectFsError(noParents, 404, "ENOENT")
  })

  it("GET /fs/read: raw bytes; Range -> 206 with Content-Range; start/end slice; errors", async () => {
    const whole = await raw("GET", fs("read", { path: "a/b/c.txt", workingDir: "/workspace" }))
    expect(whole.response.status).toBe(200)
    expect(whole.bytes.toString()).toBe("hello wire")
    expect(whole.response.headers.get("content-length")).toBe("10")
    const ranged = await raw("GET", fs("read", { path: "/workspace/a/b/c.txt" }), undefined, { Range: "bytes=6-9" })
    expect(ranged.response.status).toBe(206)
    expect(ranged.response.headers.get("content-range")).toBe("bytes 6-9/10")
    expect(ranged.bytes.toString()).toBe("wire")
    const suffix = await raw("GET", fs("read", { path: "/workspace/a/b/c.txt" }), undefined, { Range: "bytes=-4" })
    expect(suffix.bytes.toString()).toBe("wire")
    const slice = await raw("GET", fs("read", { path: "/workspace/a/b/c.txt", start: "0", end: "4" }))
    expect(slice.response.status).toBe(200)
    expect(slice.bytes.toString()).toBe("hello")
    const beyond = await client.request("GET", fs("read", { path: "/workspace/a/b/c.txt" }), { headers: { Range: "bytes=50-" } })
    expectFsError(beyond, 416, "EINVAL")
    expectFsError(await client.get(fs("read", { path: "/workspace/missing" })), 404, "ENOENT", "/workspace/missing")
    expectFsError(await client.get(fs("read", { path: "/workspace/a" })), 400, "EISDIR", "/workspace/a")
    expectFsError(await client.get(fs("read")), 400, "EINVAL")
  })

  it("GET /fs/list: {path, entries[], count}; recursive; pattern; a file lists itself", async () => {
    const list = await client.get(fs("list", { path: "/workspace/a" }))
    expectStatus(list, 200)
    const body = list.json as { path: string; entries: Array<Record<string, unknown>>; count: number }
    expect(body.path).toBe("/workspace/a")
    expect(body.count).toBe(body.entries.length)
    expect(body.entries.map((e) => e["name"])).toEqual(["b"])
    body.entries.forEach(expectEntry)
    const deep = (await client.get(fs("list", { path: "/workspace", recursive: "true" }))).json as typeof body
    expect(deep.entries.map((e) => e["path"])).toContain("/workspace/a/b/c.txt")
    deep.entries.forEach(expectEntry)
    const pattern = (await client.get(fs("list", { path: "/workspace", recursive: "true", pattern: "c.*" }))).json as typeof body
    expect(pattern.entries.map((e) => e["name"])).toEqual(["c.txt"])
    const file = (await client.get(fs("list", { path: "a/b/c.txt", workingDir: "/workspace" }))).json as typeof body
    expect(file.entries).toHaveLength(1)
    expect(file.entries[0]).toMatchObject({ name: "c.txt", type: "file", size: 10, mode: "0640", isDir: false })
    expectFsError(await client.get(fs("list", { path: "/workspace/nothing" })), 404, "ENOENT")
  })

  it("POST /fs/rename, /fs/copy, /fs/chmod, /fs/chown: the documented bodies and answers", async () => {
    const renamed = await client.post(fs("rename"), { source: "a/b/c.txt", dest: "a/b/d.txt", workingDir: "/workspace" })
    expectStatus(renamed, 200)
    expect(renamed.json).toEqual({ source: "/workspace/a/b/c.txt", dest: "/workspace/a/b/d.txt" })
    const copied = await client.post(fs("copy"), { source: "/workspace/a", dest: "/workspace/a2", recursive: true })
    expectStatus(copied, 200)
    const copy = copied.json as Record<string, unknown>
    expect(copy["source"]).toBe("/workspace/a")
    expect(copy["dest"]).toBe("/workspace/a2")
    expect(copy["count"]).toBe(3)
    expect(copy["totalBytes"]).toBe(10)
    expect(Array.isArray(copy["copied"])).toBe(true)
    expectFsError(await client.post(fs("copy"), { source: "/workspace/a", dest: "/workspace/a3" }), 400, "EISDIR")
    const chmod = await client.post(fs("chmod"), { path: "/workspace/a2", mode: "0750", recursive: true })
    expectStatus(chmod, 200)
    expect(chmod.json).toMatchObject({ path: "/workspace/a2", mode: "0750", count: 3 })
    expect((chmod.json as { affected: Array<unknown> }).affected).toContainEqual({ path: "/workspace/a2/b/d.txt", mode: "0750" })
    expectFsError(await client.post(fs("chmod"), { path: "/workspace/a2", mode: "rwx" }), 400, "EINVAL")
    const chown = await client.post(fs("chown"), { path: "/workspace/a2/b/d.txt", uid: "nobody", gid: 0 })
    expectStatus(chown, 200)
    expect((chown.json as { affected: Array<unknown> }).affected).toEqual([{ path: "/workspace/a2/b/d.txt", uid: 65534, gid: 0 }])
    expectFsError(await client.post(fs("chown"), { path: "/workspace/a2", uid: "no-such-user" }), 400, "EINVAL")
    expectFsError(await client.post(fs("rename"), { source: "/workspace/nope", dest: "/workspace/n2" }), 404, "ENOENT", "/workspace/nope")
  })

  it("DELETE /fs/delete: query params and JSON body; {deleted, count}; ENOTEMPTY without recursive", async () => {
    expectFsError(await client.delete(fs("delete", { path: "/workspace/a2" })), 409, "ENOTEMPTY", "/workspace/a2")
    const byQuery = await client.delete(fs("delete", { path: "a2", workingDir: "/workspace", recursive: "true", asRoot: "true" }))
    expectStatus(byQuery, 200)
    const deleted = byQuery.json as { deleted: Array<string>; count: number }
    expect(deleted.deleted).toContain("/workspace/a2")
    expect(deleted.count).toBe(3)
    const byBody = await client.delete(fs("delete"), { body: { path: "/workspace/x", workingDir: "/", recursive: true } })
    expectStatus(byBody, 200)
    expect((byBody.json as { count: number }).count).toBe(2)
    expectFsError(await client.delete(fs("delete", { path: "/workspace/x" })), 404, "ENOENT")
  })

  it("an unknown sprite is 404 in the Sprites shape; a bad key is 401", async () => {
    const missing = await client.get(`/v1/sprites/no-such-sprite/fs/list?path=/`)
    expectStatus(missing, 404)
    expect(typeof (missing.json as Record<string, unknown>)["error"]).toBe("string")
    expectStatus(await client.get(fs("list", { path: "/" }), { authorization: "Bearer wrong" }), 401)
  })

  it("WSS /fs/watch: subscribe, subscribed, event frames; a bad subscribe is an error frame", async () => {
    const url = `${base.replace("http", "ws")}/v1/sprites/${NAME}/fs/watch`
    const frames: Array<Record<string, unknown>> = []
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${KEY}` } })
    await new Promise<void>((resolve, reject) => {
      ws.on("open", () => resolve())
      ws.on("error", reject)
    })
    ws.on("message", (data: Buffer) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>))
    ws.send(JSON.stringify({ type: "subscribe", paths: ["/workspace"], recursive: true, workingDir: "/" }))
    for (let i = 0; i < 100 && frames.length === 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(frames[0]).toEqual({ type: "subscribed", paths: ["/workspace"] })
    await raw("PUT", fs("write", { path: "/workspace/watch-me.txt" }), "12345")
    for (let i = 0; i < 100 && !frames.some((f) => f["event"] === "write"); i++) await new Promise((r) => setTimeout(r, 50))
    const write = frames.find((f) => f["event"] === "write")
    expect(write).toMatchObject({ type: "event", path: "/workspace/watch-me.txt", event: "write", isDir: false })
    expect(String(write?.["timestamp"])).toMatch(rfc3339)
    expect(frames.some((f) => f["event"] === "create" && f["path"] === "/workspace/watch-me.txt")).toBe(true)
    ws.close()

    const bad = new WebSocket(url, { headers: { Authorization: `Bearer ${KEY}` } })
    const badFrames: Array<Record<string, unknown>> = []
    const closed = new Promise<number>((resolve) => bad.on("close", (code) => resolve(code)))
    bad.on("message", (data: Buffer) => badFrames.push(JSON.parse(data.toString()) as Record<string, unknown>))
    bad.on("open", () => bad.send(JSON.stringify({ type: "subscribe", paths: ["/no/such/dir"] })))
    expect(await closed).toBe(1000)
    expect(badFrames[0]?.["type"]).toBe("error")
    expect(String(badFrames[0]?.["message"])).toContain("ENOENT")
  })
})
