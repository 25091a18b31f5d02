/**
 * Heyo-dialect conformance on the raw wire: every route of reference/heyo-api.md §2.1-2.3 and
 * §2.5 (health, capabilities) that heyod serves, with exact field names, types, status codes and
 * error bodies, checked by hand-written JSON against the reference (never our own schemas).
 */
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import {
  b64,
  Client,
  exec,
  expectError,
  expectJson,
  expectSandboxInfo,
  expectStatus,
  idPattern,
  objectOf,
  randomSuffix,
  Sandboxes,
  show,
  stopAndCheck,
  unb64
} from "./Wire.js"

const run = randomSuffix()
/** A unique sandbox name for this run. */
const nameFor = (label: string) => `wire-${label}-${run}`

/** A full create body (heyo-api.md §2.1 SandboxCreate), `host` image for speed. */
const fullBody = (name: string) => ({
  name,
  image: "host",
  region: "EU",
  size_class: "mini",
  start_command: "sleep 100000",
  open_ports: [8080],
  ttl_seconds: 3600,
  working_directory: "/workspace",
  env_vars: { HEYO_WIRE_VAR: "wire value", SECOND: "2" },
  setup_hooks: ["echo hook-one > /tmp/hook-ran", "echo hook-two >> /tmp/hook-ran"],
  disk_size_gb: 5,
  daemonId: "hd-ignored-locally"
})

const baseBody = (name: string) => ({ name, image: "host", size_class: "micro" })

describe("Heyo wire, no API key", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  /** The fully specified sandbox created in the first lifecycle test, reused by later ones. */
  let mainId = ""
  const mainName = nameFor("main")

  beforeAll(async () => {
    heyod = await Heyod.start({ args: ["--ttl-sweep-interval", "100ms"] })
    client = new Client(heyod.url)
    sandboxes = new Sandboxes(client)
  })

  afterAll(async () => {
    if (heyod === undefined) return
    const problems = await sandboxes.killEverything()
    await stopAndCheck(heyod)
    expect(problems, "DELETE of the suite's sandboxes").toEqual([])
  })

  /** The main sandbox, created on demand if the test that creates it did not run or failed. */
  const main = async () => {
    if (mainId !== "") return mainId
    mainId = await sandboxes.running(fullBody(mainName))
    return mainId
  }

  describe("health and capabilities (§2.5)", () => {
    it("GET /health is 200 {status:\"ok\"}", async () => {
      const reply = await client.get("/health")
      expect(expectJson(reply, 200)).toEqual({ status: "ok" })
    })

    it("GET /capabilities has the camelCase fields and heyod's features list", async () => {
      const reply = await client.get("/capabilities")
      const body = expectJson(reply, 200)
      expect(Object.keys(body).sort(), show(reply)).toEqual(
        ["archiveSupportedDrivers", "defaultDriver", "features", "supportedDrivers", "targetOs"]
      )
      expect(typeof body["targetOs"]).toBe("string")
      expect(typeof body["defaultDriver"]).toBe("string")
      for (const key of ["supportedDrivers", "archiveSupportedDrivers", "features"]) {
        const value = body[key]
        expect(Array.isArray(value) && value.every((v) => typeof v === "string"), `${key}: ${show(reply)}`).toBe(true)
      }
      expect(body["supportedDrivers"] as Array<string>, "defaultDriver is one of supportedDrivers").toContain(
        body["defaultDriver"]
      )
    })
  })

  describe("unknown routes", () => {
    it.each([
      ["GET", "/no-such-route"],
      ["POST", "/no-such-route"],
      ["GET", "/deployed-sandboxes/sb-00000000/no-such-thing"],
      ["POST", "/sandbox/sb-00000000/no-such-action"],
      ["PUT", "/deployed-sandboxes"]
    ])("%s %s is 404 {message}", async (method, route) => {
      const reply = await client.request(method, route, method === "GET" ? {} : { body: {} })
      // A known path with the wrong method may also be 405; both must carry {message}.
      if (method === "PUT") {
        expect([404, 405], show(reply)).toContain(reply.status)
        expectError(reply, reply.status)
      } else {
        expectError(reply, 404)
      }
    })
  })

  describe("POST /sandbox-deploy", () => {
    it("answers 202 {id, status:\"provisioning\"} and the sandbox reaches running with every field echoed", async () => {
      const reply = await client.post("/sandbox-deploy", fullBody(mainName))
      const body = expectJson(reply, 202)
      expect(Object.keys(body).sort(), show(reply)).toEqual(["id", "status"])
      expect(body["id"], show(reply)).toMatch(idPattern)
      expect(body["status"], show(reply)).toBe("provisioning")
      mainId = String(body["id"])
      sandboxes.created.add(mainId)

      const info = expectSandboxInfo(await sandboxes.waitFor(mainId, ["running"]), "the running sandbox")
      expect(info).toMatchObject({
        id: mainId,
        name: mainName,
        status: "running",
        image: "host",
        region: "EU",
        size_class: "mini",
        start_command: "sleep 100000",
        working_directory: "/workspace",
        ttl_seconds: 3600,
        disk_size_gb: 5,
        env_vars: { HEYO_WIRE_VAR: "wire value", SECOND: "2" },
        setup_hooks: ["echo hook-one > /tmp/hook-ran", "echo hook-two >> /tmp/hook-ran"],
        error_message: null,
        // `open_ports` are bound at create (README, Networking): one BoundUrl per port
        urls: [{
          subdomain: `${mainId}-8080`,
          hostname: `${mainId}-8080.localhost`,
          url: `http://${mainId}-8080.localhost:${new URL(heyod.url).port}`,
          port: 8080,
          is_public: true
        }]
      })
      expect(Date.parse(String(info["status_changed_at"])), "status_changed_at is recent").toBeGreaterThan(
        Date.now() - 120_000
      )
      expect(Date.parse(String(info["status_changed_at"]))).toBeLessThanOrEqual(Date.now() + 5_000)
    })

    it("ran the setup hooks in order, set env_vars and working_directory, started start_command", async () => {
      const id = await main()
      const hooks = await exec(client, id, "cat /tmp/hook-ran")
      expect(hooks.stdout, JSON.stringify(hooks)).toBe("hook-one\nhook-two\n")
      const env = await exec(client, id, "printf '%s|%s' \"$HEYO_WIRE_VAR\" \"$SECOND\"")
      expect(env.stdout, JSON.stringify(env)).toBe("wire value|2")
      const pwd = await exec(client, id, "pwd")
      expect(pwd.stdout, JSON.stringify(pwd)).toBe("/workspace\n")
      const ps = await exec(client, id, "ps -eo args")
      expect(ps.stdout, JSON.stringify(ps)).toContain("sleep 100000")
    })

    it("a raw {} body falls back to the server defaults and runs", async () => {
      const reply = await client.request("POST", "/sandbox-deploy", { raw: "{}" })
      const body = expectJson(reply, 202)
      expect(body["id"], show(reply)).toMatch(idPattern)
      const id = String(body["id"])
      sandboxes.created.add(id)
      const info = expectSandboxInfo(await sandboxes.waitFor(id, ["running"], 180_000), "a default sandbox")
      expect(typeof info["name"] === "string" && info["name"] !== "", "a generated name").toBe(true)
      expect(info["image"], "a default image").not.toBe("")
      const echo = await exec(client, id, "echo default")
      expect(echo.stdout).toBe("default\n")
      expectStatus(await sandboxes.kill(id), 204)
    }, 240_000)

    it.each([
      ["size_class", { size_class: "gigantic" }],
      ["region", { region: "MARS" }],
      ["ttl_seconds", { ttl_seconds: -1 }],
      ["ttl_seconds", { ttl_seconds: "an hour" }],
      ["env_vars", { env_vars: "FOO=bar" }],
      ["setup_hooks", { setup_hooks: "echo hi" }],
      ["open_ports", { open_ports: ["http"] }],
      ["disk_size_gb", { disk_size_gb: -5 }],
      ["name", { name: 42 }]
    ])("an invalid %s is 400 naming the field", async (field, patch) => {
      const name = nameFor(`bad-${field}-${randomSuffix()}`)
      const reply = await client.post("/sandbox-deploy", { ...baseBody(name), ...patch })
      expectError(reply, 400, field)
      const listed = await client.get(`/deployed-sandboxes?name=${encodeURIComponent(name)}`)
      expect(listed.json, "a refused deploy creates nothing").toEqual([])
    })

    it("a body that is not JSON is 400", async () => {
      expectError(await client.request("POST", "/sandbox-deploy", { raw: "{\"name\": " }), 400)
      expectError(await client.request("POST", "/sandbox-deploy", { raw: "not json at all" }), 400)
      expectError(await client.request("POST", "/sandbox-deploy", { raw: "[1,2]" }), 400)
    })

    it("an unknown image is 400 listing the known images", async () => {
      const reply = await client.post("/sandbox-deploy", { ...baseBody(nameFor("noimg")), image: "no-such-image:9.9" })
      expectError(reply, 400, "image", "host", "ubuntu:24.04")
    })

    it("a duplicate name is 409", async () => {
      await main()
      const reply = await client.post("/sandbox-deploy", baseBody(mainName))
      expectError(reply, 409)
      const listed = await client.get(`/deployed-sandboxes?name=${encodeURIComponent(mainName)}`)
      expect(Array.isArray(listed.json) ? listed.json.length : listed.json, show(listed)).toBe(1)
    })

    it("a name that looks like a sandbox id is 400", async () => {
      expectError(await client.post("/sandbox-deploy", baseBody("sb-12345678")), 400, "name")
    })

    it("a body over 1 MB is 413 {message}", async () => {
      const big = "x".repeat(1_100_000)
      const reply = await client.post("/sandbox-deploy", { ...baseBody(nameFor("big")), env_vars: { BIG: big } })
      expectError(reply, 413)
    })

    it("a failing setup hook ends in status failed with an error_message", async () => {
      const name = nameFor("hookfail")
      const id = await sandboxes.deploy({ ...baseBody(name), setup_hooks: ["echo fine", "echo broken >&2; exit 7"] })
      const info = expectSandboxInfo(await sandboxes.waitFor(id, ["failed"], 40_000), "a failed sandbox")
      expect(info["status"]).toBe("failed")
      expect(typeof info["error_message"] === "string" && info["error_message"] !== "", JSON.stringify(info)).toBe(
        true
      )
      // The failed sandbox is listed and deletable like any other.
      const listed = await client.get(`/deployed-sandboxes?name=${name}`)
      expect((listed.json as Array<Record<string, unknown>>).map((s) => s["status"]), show(listed)).toEqual(["failed"])
      expectStatus(await sandboxes.kill(id), 204)
    })
  })

  describe("GET /deployed-sandboxes and /deployed-sandboxes/:id", () => {
    it("the list is a bare array of SandboxInfo including ours", async () => {
      const id = await main()
      const reply = await client.get("/deployed-sandboxes")
      expectStatus(reply, 200)
      expect(Array.isArray(reply.json), show(reply)).toBe(true)
      const list = reply.json as Array<unknown>
      list.forEach((item, i) => expectSandboxInfo(item, `list item ${i}`))
      expect(list.map((s) => (s as Record<string, unknown>)["id"])).toContain(id)
    })

    it("?name= filters by exact name", async () => {
      const id = await main()
      const exact = await client.get(`/deployed-sandboxes?name=${encodeURIComponent(mainName)}`)
      expectStatus(exact, 200)
      expect((exact.json as Array<Record<string, unknown>>).map((s) => s["id"]), show(exact)).toEqual([id])
      const prefix = await client.get(`/deployed-sandboxes?name=${encodeURIComponent(mainName.slice(0, -2))}`)
      expect(prefix.json, `a prefix is not an exact name: ${show(prefix)}`).toEqual([])
      const none = await client.get(`/deployed-sandboxes?name=no-such-sandbox-${run}`)
      expect(none.json, show(none)).toEqual([])
    })

    it("GET /deployed-sandboxes/:id is the SandboxInfo", async () => {
      const id = await main()
      const reply = await client.get(`/deployed-sandboxes/${id}`)
      const info = expectSandboxInfo(expectJson(reply, 200), show(reply))
      expect(info["id"]).toBe(id)
      expect(info["name"]).toBe(mainName)
    })

    it("an unknown id is 404 {message}", async () => {
      expectError(await client.get("/deployed-sandboxes/sb-00000000"), 404)
      expectError(await client.get("/deployed-sandboxes/not-an-id"), 404)
    })
  })

  describe("POST /sandbox/:id/exec (§2.2)", () => {
    it("returns stdout, stderr, output and exit_code; a non-zero exit is still 200", async () => {
      const id = await main()
      const reply = await client.post(`/sandbox/${id}/exec`, { command: "echo out; echo err >&2; exit 3" })
      const body = expectJson(reply, 200)
      expect(Object.keys(body).sort(), show(reply)).toEqual(["exit_code", "output", "stderr", "stdout"])
      expect(body["stdout"]).toBe("out\n")
      expect(body["stderr"]).toBe("err\n")
      expect(body["exit_code"]).toBe(3)
      expect(String(body["output"])).toContain("out\n")
      expect(String(body["output"])).toContain("err\n")
    })

    it("runs through sh -c, honours cwd and env, keeps UTF-8", async () => {
      const id = await main()
      const pipes = await exec(client, id, "printf 'a\\nb\\nc\\n' | wc -l && test -n \"$0\"")
      expect(pipes.stdout.trim(), JSON.stringify(pipes)).toBe("3")
      const cwd = await exec(client, id, "pwd", { cwd: "/tmp" })
      expect(cwd.stdout, JSON.stringify(cwd)).toBe("/tmp\n")
      const env = await exec(client, id, "echo \"$WIRE_ENV\"", { env: { WIRE_ENV: "from request" } })
      expect(env.stdout, JSON.stringify(env)).toBe("from request\n")
      const utf8 = await exec(client, id, "printf 'h\\303\\251llo \\342\\234\\223'")
      expect(utf8.stdout, JSON.stringify(utf8)).toBe("héllo ✓")
      const code = await exec(client, id, "false")
      expect(code.exit_code).toBe(1)
    })

    it("concurrent execs on one sandbox all succeed with their own output (not the daemon's §2.2 trap)", async () => {
      const id = await main()
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => exec(client, id, `sleep 0.3; echo job-${i}; echo err-${i} >&2; exit ${i}`))
      )
      expect(results.map((r) => [r.stdout, r.stderr, r.exit_code])).toEqual(
        Array.from({ length: 6 }, (_, i) => [`job-${i}\n`, `err-${i}\n`, i])
      )
    })

    it("a large output (2 MiB) comes back whole", async () => {
      const id = await main()
      const big = await exec(client, id, "head -c 2097152 /dev/zero | tr '\\0' 'a'")
      expect(big.exit_code).toBe(0)
      expect(big.stdout.length).toBe(2_097_152)
      expect(/^a+$/.test(big.stdout)).toBe(true)
    })

    it("a missing or non-string command is 400 naming command", async () => {
      const id = await main()
      expectError(await client.post(`/sandbox/${id}/exec`, {}), 400, "command")
      expectError(await client.post(`/sandbox/${id}/exec`, { command: 42 }), 400, "command")
      expectError(await client.request("POST", `/sandbox/${id}/exec`, { raw: "{oops" }), 400)
    })

    it("an unknown sandbox is 404", async () => {
      expectError(await client.post("/sandbox/sb-00000000/exec", { command: "true" }), 404)
    })
  })

  describe("files (§2.3)", () => {
    it("write-file is 201 {status:\"created\"}; read-file returns {content, file_path, content_type}", async () => {
      const id = await main()
      const write = await client.post(`/sandbox/${id}/write-file`, { file_path: "hello.txt", content: b64("hi there\n") })
      expect(expectJson(write, 201)).toEqual({ status: "created" })
      const cat = await exec(client, id, "cat /workspace/hello.txt")
      expect(cat.stdout, "a relative path lands under /workspace").toBe("hi there\n")

      const read = await client.post(`/sandbox/${id}/read-file`, { file_path: "hello.txt" })
      const body = expectJson(read, 200)
      expect(Object.keys(body).sort(), show(read)).toEqual(["content", "content_type", "file_path"])
      expect(body["file_path"]).toBe("hello.txt")
      expect(body["content_type"]).toBe("application/octet-stream")
      expect(unb64(body["content"]).toString()).toBe("hi there\n")
    })

    it("round-trips every byte value", async () => {
      const id = await main()
      const bytes = new Uint8Array(256 * 4).map((_, i) => i % 256)
      expectStatus(await client.post(`/sandbox/${id}/write-file`, { file_path: "bytes.bin", content: b64(bytes) }), 201)
      const read = await client.post(`/sandbox/${id}/read-file`, { file_path: "bytes.bin" })
      expect(unb64(expectJson(read, 200)["content"]).equals(Buffer.from(bytes))).toBe(true)
      const sum = await exec(client, id, "wc -c < /workspace/bytes.bin")
      expect(sum.stdout.trim()).toBe("1024")
    })

    it("an empty file, a nested path, mount_path and an absolute path", async () => {
      const id = await main()
      expectStatus(await client.post(`/sandbox/${id}/write-file`, { file_path: "empty", content: "" }), 201)
      const empty = await client.post(`/sandbox/${id}/read-file`, { file_path: "empty" })
      expect(expectJson(empty, 200)["content"]).toBe("")

      expectStatus(
        await client.post(`/sandbox/${id}/write-file`, { file_path: "src/pkg/main.py", content: b64("print(1)\n") }),
        201
      )
      expect((await exec(client, id, "cat /workspace/src/pkg/main.py")).stdout).toBe("print(1)\n")

      expectStatus(
        await client.post(`/sandbox/${id}/write-file`, {
          file_path: "in-tmp.txt",
          mount_path: "/tmp",
          content: b64("tmp!")
        }),
        201
      )
      expect((await exec(client, id, "cat /tmp/in-tmp.txt")).stdout).toBe("tmp!")
      const viaMount = await client.post(`/sandbox/${id}/read-file`, { file_path: "in-tmp.txt", mount_path: "/tmp" })
      expect(unb64(expectJson(viaMount, 200)["content"]).toString()).toBe("tmp!")

      const hostPath = `/opt/heyo-wire-abs-${run}.txt`
      expectStatus(
        await client.post(`/sandbox/${id}/write-file`, { file_path: hostPath, content: b64("absolute") }),
        201
      )
      expect((await exec(client, id, `cat ${hostPath}`)).stdout, "absolute paths are inside the sandbox").toBe(
        "absolute"
      )
      expect(fs.existsSync(hostPath), `${hostPath} must not appear on the host`).toBe(false)
      const absRead = await client.post(`/sandbox/${id}/read-file`, { file_path: hostPath })
      expect(unb64(expectJson(absRead, 200)["content"]).toString()).toBe("absolute")
    })

    it("a file written by exec is readable; a missing file is 404", async () => {
      const id = await main()
      await exec(client, id, "printf made-by-exec > /workspace/by-exec.txt")
      const read = await client.post(`/sandbox/${id}/read-file`, { file_path: "by-exec.txt" })
      expect(unb64(expectJson(read, 200)["content"]).toString()).toBe("made-by-exec")
      expectError(await client.post(`/sandbox/${id}/read-file`, { file_path: `missing-${run}.txt` }), 404)
    })

    it("invalid base64, a missing file_path or content is 400; unknown sandbox is 404", async () => {
      const id = await main()
      expectError(
        await client.post(`/sandbox/${id}/write-file`, { file_path: "bad.txt", content: "!!! not base64 !!!" }),
        400
      )
      expectError(await client.post(`/sandbox/${id}/write-file`, { content: b64("x") }), 400, "file_path")
      expectError(await client.post(`/sandbox/${id}/write-file`, { file_path: "x.txt" }), 400, "content")
      expectError(await client.post(`/sandbox/${id}/read-file`, {}), 400, "file_path")
      expectError(await client.post("/sandbox/sb-00000000/read-file", { file_path: "a" }), 404)
      expectError(await client.post("/sandbox/sb-00000000/write-file", { file_path: "a", content: b64("a") }), 404)
    })

    it("a 700 KiB file fits the 1 MB body; an 800 KiB one is 413", async () => {
      const id = await main()
      const fits = Buffer.alloc(700 * 1024, 7)
      expectStatus(await client.post(`/sandbox/${id}/write-file`, { file_path: "fits.bin", content: b64(fits) }), 201)
      const read = await client.post(`/sandbox/${id}/read-file`, { file_path: "fits.bin" })
      expect(unb64(expectJson(read, 200)["content"]).equals(fits)).toBe(true)
      const tooBig = Buffer.alloc(800 * 1024, 7)
      expectError(await client.post(`/sandbox/${id}/write-file`, { file_path: "big.bin", content: b64(tooBig) }), 413)
    })
  })

  describe("stop, start, restart, ttl", () => {
    it("stop is 200 {status:\"stopped\"}; the sandbox stays listed as stopped; exec is 409", async () => {
      const id = await main()
      expectStatus(
        await client.post(`/sandbox/${id}/write-file`, { file_path: "survives.txt", content: b64("kept") }),
        201
      )
      const before = objectOf(await client.get(`/deployed-sandboxes/${id}`))
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const stop = await client.post(`/sandbox/${id}/stop`)
      expect(expectJson(stop, 200)).toEqual({ status: "stopped" })

      const info = expectSandboxInfo(expectJson(await client.get(`/deployed-sandboxes/${id}`), 200), "stopped")
      expect(info["status"]).toBe("stopped")
      expect(Date.parse(String(info["status_changed_at"])), "status_changed_at moves on stop").toBeGreaterThan(
        Date.parse(String(before["status_changed_at"]))
      )
      expect(info["uptime_secs"]).toBe(0)
      const listed = await client.get(`/deployed-sandboxes?name=${encodeURIComponent(mainName)}`)
      expect((listed.json as Array<Record<string, unknown>>).map((s) => s["status"]), show(listed)).toEqual(["stopped"])
      const all = await client.get("/deployed-sandboxes")
      expect((all.json as Array<Record<string, unknown>>).map((s) => s["id"]), "stopped ones are listed").toContain(id)

      expectError(await client.post(`/sandbox/${id}/exec`, { command: "true" }), 409)
    })

    it("start is 200 SandboxInfo running, and the files survived", async () => {
      const id = await main()
      const start = await client.post(`/sandbox/${id}/start`)
      const info = expectSandboxInfo(expectJson(start, 200), show(start))
      expect(info["id"]).toBe(id)
      expect(info["status"]).toBe("running")
      const cat = await exec(client, id, "cat /workspace/survives.txt")
      expect(cat.stdout, JSON.stringify(cat)).toBe("kept")
    })

    it("start on a running sandbox is 200 and changes nothing", async () => {
      const id = await main()
      const start = await client.post(`/sandbox/${id}/start`)
      expect(expectSandboxInfo(expectJson(start, 200), show(start))["status"]).toBe("running")
    })

    it("restart is 200 SandboxInfo running", async () => {
      const id = await main()
      const restart = await client.post(`/deployed-sandboxes/${id}/restart`)
      const info = expectSandboxInfo(expectJson(restart, 200), show(restart))
      expect(info["status"]).toBe("running")
      const echo = await exec(client, id, "echo after-restart; cat /workspace/survives.txt")
      expect(echo.stdout).toBe("after-restart\nkept")
    })

    it("ttl is 200 SandboxInfo with the new ttl_seconds", async () => {
      const id = await main()
      const reply = await client.post(`/deployed-sandboxes/${id}/ttl`, { ttl_seconds: 7200 })
      expect(expectSandboxInfo(expectJson(reply, 200), show(reply))["ttl_seconds"]).toBe(7200)
      const info = objectOf(await client.get(`/deployed-sandboxes/${id}`))
      expect(info["ttl_seconds"]).toBe(7200)
    })

    it("a bad ttl body is 400; ttl on an unknown sandbox is 404", async () => {
      const id = await main()
      expectError(await client.post(`/deployed-sandboxes/${id}/ttl`, {}), 400, "ttl_seconds")
      expectError(await client.post(`/deployed-sandboxes/${id}/ttl`, { ttl_seconds: -5 }), 400, "ttl_seconds")
      expectError(await client.post(`/deployed-sandboxes/${id}/ttl`, { ttl_seconds: "soon" }), 400, "ttl_seconds")
      expectError(await client.request("POST", `/deployed-sandboxes/${id}/ttl`, { raw: "{" }), 400)
      expectError(await client.post("/deployed-sandboxes/sb-00000000/ttl", { ttl_seconds: 60 }), 404)
      expect(objectOf(await client.get(`/deployed-sandboxes/${id}`))["ttl_seconds"], "unchanged").toBe(7200)
    })

    it("stop, start and restart of an unknown sandbox are 404", async () => {
      expectError(await client.post("/sandbox/sb-00000000/stop"), 404)
      expectError(await client.post("/sandbox/sb-00000000/start"), 404)
      expectError(await client.post("/deployed-sandboxes/sb-00000000/restart"), 404)
    })

    it("a sandbox whose ttl expires is removed by the sweeper", async () => {
      const id = await sandboxes.running({ ...baseBody(nameFor("ttl")), ttl_seconds: 3600 })
      expectStatus(await client.post(`/deployed-sandboxes/${id}/ttl`, { ttl_seconds: 1 }), 200)
      const deadline = Date.now() + 15_000
      let last = await client.get(`/deployed-sandboxes/${id}`)
      while (Date.now() < deadline && last.status === 200 && (last.json as Record<string, unknown>)["status"] === "running") {
        await new Promise((resolve) => setTimeout(resolve, 200))
        last = await client.get(`/deployed-sandboxes/${id}`)
      }
      // Expired: gone (404) or no longer running; either way exec no longer runs anything.
      expect(
        last.status === 404 || (last.status === 200 && (last.json as Record<string, unknown>)["status"] !== "running"),
        `expired sandbox still running after 15 s: ${show(last)}`
      ).toBe(true)
      const execReply = await client.post(`/sandbox/${id}/exec`, { command: "echo alive" })
      expect([404, 409], show(execReply)).toContain(execReply.status)
    }, 60_000)
  })

  describe("DELETE /deployed-sandboxes/:id", () => {
    it("is 204 with an empty body; then GET is 404 and a second DELETE is 404", async () => {
      const name = nameFor("del")
      const id = await sandboxes.running(baseBody(name))
      const reply = await sandboxes.kill(id)
      expectStatus(reply, 204)
      expect(reply.text, "204 has no body").toBe("")
      expectError(await client.get(`/deployed-sandboxes/${id}`), 404)
      expectError(await client.delete(`/deployed-sandboxes/${id}`), 404)
      const listed = await client.get(`/deployed-sandboxes?name=${name}`)
      expect(listed.json, show(listed)).toEqual([])
      const all = await client.get("/deployed-sandboxes")
      expect((all.json as Array<Record<string, unknown>>).map((s) => s["id"])).not.toContain(id)
      expectError(await client.post(`/sandbox/${id}/exec`, { command: "true" }), 404)
    })

    it("a deleted sandbox's name can be used again", async () => {
      const name = nameFor("reuse")
      const first = await sandboxes.running(baseBody(name))
      expectStatus(await sandboxes.kill(first), 204)
      const second = await sandboxes.running(baseBody(name))
      expect(second).not.toBe(first)
      expectStatus(await sandboxes.kill(second), 204)
    })

    it("a stopped sandbox can be deleted", async () => {
      const id = await sandboxes.running(baseBody(nameFor("delstopped")))
      expectStatus(await client.post(`/sandbox/${id}/stop`), 200)
      expectStatus(await sandboxes.kill(id), 204)
      expectError(await client.get(`/deployed-sandboxes/${id}`), 404)
    })

    it("an unknown id is 404 {message}", async () => {
      expectError(await client.delete("/deployed-sandboxes/sb-00000000"), 404)
    })
  })

  describe("no key configured", () => {
    it("any Authorization header is accepted (open server)", async () => {
      const reply = await client.get("/deployed-sandboxes", { authorization: "Bearer whatever-the-client-has" })
      expectStatus(reply, 200)
      expectStatus(await client.get("/capabilities", { authorization: "" }), 200)
    })
  })
})

describe("Heyo wire, with --api-key", () => {
  const key = `heyo_api_test_${randomSuffix()}${randomSuffix()}`
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: key })
    client = new Client(heyod.url, key)
    sandboxes = new Sandboxes(client)
  })

  afterAll(async () => {
    if (heyod === undefined) return
    const problems = await sandboxes.killEverything()
    await stopAndCheck(heyod)
    expect(problems).toEqual([])
  })

  it("the key is not printed in heyod's output", () => {
    expect(heyod.logs()).not.toContain(key)
  })

  it("GET /health needs no key", async () => {
    const reply = await client.get("/health", { authorization: null })
    expect(expectJson(reply, 200)).toEqual({ status: "ok" })
    expectStatus(await client.get("/health", { authorization: "Bearer wrong" }), 200)
  })

  const routes: ReadonlyArray<readonly [string, string, unknown]> = [
    ["GET", "/capabilities", undefined],
    ["GET", "/deployed-sandboxes", undefined],
    ["GET", "/deployed-sandboxes?name=x", undefined],
    ["POST", "/sandbox-deploy", { name: "unauthorized", image: "host" }],
    ["POST", "/sandbox-deploy", { size_class: "gigantic" }],
    ["GET", "/deployed-sandboxes/sb-00000000", undefined],
    ["DELETE", "/deployed-sandboxes/sb-00000000", undefined],
    ["POST", "/sandbox/sb-00000000/stop", undefined],
    ["POST", "/sandbox/sb-00000000/start", undefined],
    ["POST", "/deployed-sandboxes/sb-00000000/restart", undefined],
    ["POST", "/deployed-sandboxes/sb-00000000/ttl", { ttl_seconds: 5 }],
    ["POST", "/sandbox/sb-00000000/exec", { command: "true" }],
    ["POST", "/sandbox/sb-00000000/read-file", { file_path: "a" }],
    ["POST", "/sandbox/sb-00000000/write-file", { file_path: "a", content: "YQ==" }]
  ]

  const badCredentials: ReadonlyArray<readonly [string, string | null]> = [
    ["no header", null],
    ["a wrong key", "Bearer not-the-key"],
    ["the key with a suffix", `Bearer ${key}x`],
    ["a prefix of the key", `Bearer ${key.slice(0, -1)}`],
    ["the Basic scheme", `Basic ${Buffer.from(`user:${key}`).toString("base64")}`],
    ["the bare key without a scheme", key],
    ["an empty bearer", "Bearer "]
  ]

  it.each(badCredentials)("every route but /health is 401 {message} with %s", async (_label, authorization) => {
    for (const [method, route, body] of routes) {
      const reply = await client.request(method, route, { authorization, ...(body === undefined ? {} : { body }) })
      expectError(reply, 401)
    }
  })

  it("an unknown route without a key is 401 or 404, never a 2xx", async () => {
    const reply = await client.get("/no-such-route", { authorization: null })
    expect([401, 404], show(reply)).toContain(reply.status)
    expectError(reply, reply.status)
  })

  it("unauthenticated deploys created nothing", async () => {
    const reply = await client.get("/deployed-sandboxes")
    expect(reply.json, show(reply)).toEqual([])
  })

  it("with the key, every route works end to end", async () => {
    expectStatus(await client.get("/capabilities"), 200)
    const name = `wire-auth-${run}`
    const id = await sandboxes.running({ name, image: "host", size_class: "micro" })
    expect((await exec(client, id, "echo authed")).stdout).toBe("authed\n")
    expectStatus(await client.post(`/sandbox/${id}/write-file`, { file_path: "a.txt", content: b64("A") }), 201)
    expectStatus(await client.post(`/sandbox/${id}/read-file`, { file_path: "a.txt" }), 200)
    expectStatus(await client.post(`/deployed-sandboxes/${id}/ttl`, { ttl_seconds: 600 }), 200)
    expectStatus(await client.post(`/sandbox/${id}/stop`), 200)
    expectStatus(await client.post(`/sandbox/${id}/start`), 200)
    expectStatus(await client.post(`/deployed-sandboxes/${id}/restart`), 200)
    const list = await client.get(`/deployed-sandboxes?name=${name}`)
    expect((list.json as Array<Record<string, unknown>>).map((s) => s["id"])).toEqual([id])
    // A wrong key cannot touch it.
    expectError(await client.delete(`/deployed-sandboxes/${id}`, { authorization: "Bearer nope" }), 401)
    expectStatus(await client.get(`/deployed-sandboxes/${id}`), 200)
    expectStatus(await sandboxes.kill(id), 204)
  })

  it("the bearer scheme name is case-insensitive (RFC 7235)", async () => {
    expectStatus(await client.get("/capabilities", { authorization: `bearer ${key}` }), 200)
  })
})
