/**
 * Archive routes on the raw wire, from reference/heyo-api.md §2.4 (and `archive_id` /
 * `replace-mount` of §2.1): status codes, snake_case bodies, the wrapped list, `{message}` errors,
 * and the presigned upload that takes no Authorization header. Plain fetch, no SDK.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { Client, exec, expectError, expectJson, expectStatus, isRecord, Sandboxes, show, stopAndCheck } from "./Wire.js"

const KEY = "archive-wire-key"
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

describe("archive routes on the wire", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  let tarball: Buffer<ArrayBuffer>
  let archiveId: string

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    client = new Client(heyod.url, KEY)
    sandboxes = new Sandboxes(client)
    // as the SDKs pack it: entries under the mount path, `workspace/...`
    const dir = Heyod.makeTempDir("archive-wire-")
    fs.mkdirSync(path.join(dir, "workspace", "src"), { recursive: true })
    fs.writeFileSync(path.join(dir, "workspace", "src", "app.py"), "print('hi')\n")
    fs.writeFileSync(path.join(dir, "workspace", "README"), "readme\n")
    execFileSync("tar", ["-czf", path.join(dir, "a.tar.gz"), "-C", dir, "workspace"])
    tarball = fs.readFileSync(path.join(dir, "a.tar.gz"))
    fs.rmSync(dir, { recursive: true, force: true })
  })
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killAll()
    await stopAndCheck(heyod)
  })

  it("presign (no body) -> {archive_id, upload_url}; PUT without Authorization; finalize -> {id, size_bytes, created_at}", async () => {
    const presign = await client.request("POST", "/sandbox-archives/presign")
    const p = expectJson(presign, 200)
    expect(typeof p["archive_id"], show(presign)).toBe("string")
    expect(String(p["upload_url"]), show(presign)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//)
    expect(typeof p["expires_in_secs"], show(presign)).toBe("number")
    archiveId = String(p["archive_id"])

    const put = await fetch(String(p["upload_url"]), {
      method: "PUT",
      body: tarball,
      headers: { "Content-Type": "application/gzip", "Content-Length": String(tarball.length) }
    })
    expect(put.status).toBe(200)

    const finalize = await client.post(`/sandbox-archives/${archiveId}/finalize`, { sandbox_id: "my-dir", name: "wire" })
    const f = expectJson(finalize, 200)
    expect(f["id"], show(finalize)).toBe(archiveId)
    expect(f["size_bytes"], show(finalize)).toBe(tarball.length)
    expect(String(f["created_at"]), show(finalize)).toMatch(rfc3339)
  })

  it("GET /sandbox-archives wraps its list: {archives: [{id, sandbox_id, s3_key, size_bytes, name, created_at}]}", async () => {
    const reply = await client.get("/sandbox-archives")
    const body = expectJson(reply, 200)
    expect(Object.keys(body), show(reply)).toEqual(["archives"])
    const item = (body["archives"] as Array<Record<string, unknown>>).find((a) => a["id"] === archiveId)
    expect(item, show(reply)).toBeDefined()
    expect(Object.keys(item!).sort()).toEqual(["created_at", "id", "name", "s3_key", "sandbox_id", "size_bytes"])
    expect(item).toMatchObject({ sandbox_id: "my-dir", name: "wire", size_bytes: tarball.length })
    expect(typeof item!["s3_key"]).toBe("string")
  })

  it("GET /sandbox-archives/:id -> the tar.gz bytes", async () => {
    const response = await fetch(`${heyod.url}/sandbox-archives/${archiveId}`, { headers: { Authorization: `Bearer ${KEY}` } })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/application\/gzip/)
    expect(Buffer.from(await response.arrayBuffer()).equals(tarball)).toBe(true)
  })

  it("archive_id in POST /sandbox-deploy seeds /workspace; an unknown one is 400", async () => {
    const id = await sandboxes.running({ name: "wire-seeded", archive_id: archiveId, size_class: "micro" })
    const out = await exec(client, id, "cat /workspace/src/app.py /workspace/README")
    expect(out.stdout).toBe("print('hi')\nreadme\n")
    expectError(await client.post("/sandbox-deploy", { name: "wire-bad", archive_id: "ar-nope" }), 400, "archive_id")
  })

  it("POST /deployed-sandboxes/:id/replace-mount {archive_id, sandbox_path}: replaced; errors as {message}", async () => {
    const id = await sandboxes.running({ name: "wire-replace", size_class: "micro" })
    await exec(client, id, "mkdir -p /workspace && echo old > /workspace/old.txt")
    const replaced = await client.post(`/deployed-sandboxes/${id}/replace-mount`, { archive_id: archiveId })
    expectStatus(replaced, 200)
    expect((await exec(client, id, "cd /workspace && find . -type f | sort")).stdout).toBe("./README\n./src/app.py\n")
    expectError(await client.post(`/deployed-sandboxes/${id}/replace-mount`, {}), 400, "archive_id")
    expectError(await client.post(`/deployed-sandboxes/${id}/replace-mount`, { archive_id: "ar-0000000000000000" }), 404)
    expectError(await client.post(`/deployed-sandboxes/${id}/replace-mount`, { archive_id: archiveId, sandbox_path: "relative" }), 400)
    expectError(await client.post(`/deployed-sandboxes/sb-nothere0/replace-mount`, { archive_id: archiveId }), 404)
  })

  it("the upload URL is the credential: altered or missing it is 403; every other archive route needs the key", async () => {
    const p = (await client.request("POST", "/sandbox-archives/presign")).json as Record<string, unknown>
    const url = new URL(String(p["upload_url"]))
    const signature = url.searchParams.get("signature")!
    url.searchParams.set("signature", signature.replace(/^./, signature[0] === "a" ? "b" : "a"))
    const forged = await fetch(url, { method: "PUT", body: tarball })
    expect(forged.status).toBe(403)
    const body = (await forged.json()) as Record<string, unknown>
    expect(typeof body["message"]).toBe("string")
    // another archive's URL does not open this one
    const other = new URL(String(p["upload_url"]).replace(String(p["archive_id"]), archiveId))
    expect((await fetch(other, { method: "PUT", body: tarball })).status).toBe(403)
    for (const [method, route] of [["POST", "/sandbox-archives/presign"], ["GET", "/sandbox-archives"], ["GET", `/sandbox-archives/${archiveId}`], ["DELETE", `/sandbox-archives/${archiveId}`]] as const) {
      expectError(await client.request(method, route, { authorization: null }), 401)
    }
  })

  it("DELETE /sandbox-archives/:id: 204, then 404 (the SDKs treat it as done)", async () => {
    const deleted = await client.delete(`/sandbox-archives/${archiveId}`)
    expectStatus(deleted, 204)
    expectError(await client.delete(`/sandbox-archives/${archiveId}`), 404)
    expectError(await client.get(`/sandbox-archives/${archiveId}`), 404)
    const list = await client.get("/sandbox-archives")
    expect(isRecord(list.json) && (list.json["archives"] as Array<Record<string, unknown>>).some((a) => a["id"] === archiveId)).toBe(false)
  })
})
