import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { HeyoExec, HeyoSandbox } from "../src/index.js"

const decodeInfo = Schema.decodeUnknown(HeyoSandbox.SandboxInfo)
const decodeCreate = Schema.decodeUnknown(HeyoSandbox.SandboxCreateBody, { errors: "all" })

describe("SandboxInfo", () => {
  it.effect("decodes the minimal daemon shape: urls null, defaults filled", () =>
    Effect.gen(function*() {
      const info = yield* decodeInfo({ id: "sb-abc12345", status: "running", status_changed_at: "2026-01-01T00:00:00Z", urls: null })
      assert.deepStrictEqual(info.urls, [])
      assert.strictEqual(info.name, "")
      assert.strictEqual(info.uptimeSecs, 0)
      assert.strictEqual(info.region, null)
      assert.strictEqual(info.ttl, null)
    }))

  it.effect("tolerates unknown statuses from newer servers", () =>
    Effect.gen(function*() {
      const info = yield* decodeInfo({ id: "x", status: "hibernating", status_changed_at: "2026-01-01T00:00:00Z" })
      assert.strictEqual(info.status, "hibernating")
    }))

  it.effect("requires status_changed_at", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(decodeInfo({ id: "x", status: "running" }))
      assert.isTrue(result._tag === "Left")
    }))

  it.effect("encodes every field in snake_case", () =>
    Effect.gen(function*() {
      const info = yield* decodeInfo({ id: "sb-abc12345", status: "running", status_changed_at: "2026-01-01T00:00:00Z" })
      const wire = yield* Schema.encode(HeyoSandbox.SandboxInfo)(info)
      assert.deepStrictEqual(Object.keys(wire).sort(), [
        "backend_type", "cpus", "created_at", "disk_size_gb", "env_vars", "error_message", "guest_ip", "id", "image",
        "is_deployed", "memory", "metadata", "name", "region", "setup_hooks", "size_class", "start_command", "status",
        "status_changed_at", "ttl_seconds", "uptime_secs", "urls", "working_directory"
      ])
    }))

  it("hostFor finds a bound URL by port", () => {
    const info = Schema.decodeUnknownSync(HeyoSandbox.SandboxInfo)({
      id: "x",
      status: "running",
      status_changed_at: "2026-01-01T00:00:00Z",
      urls: [{ subdomain: "a", url: "https://a.example", port: 8080 }]
    })
    assert.strictEqual(info.hostFor(8080), "https://a.example")
    assert.strictEqual(info.hostFor(9090), null)
  })
})

describe("SandboxCreateBody", () => {
  it.effect("maps snake_case fields and keeps daemonId camelCase", () =>
    Effect.gen(function*() {
      const body = yield* decodeCreate({ size_class: "micro", env_vars: { A: "1" }, daemonId: "hd-1", ttl_seconds: 60 })
      assert.strictEqual(body.sizeClass, "micro")
      assert.deepStrictEqual(body.envVars, { A: "1" })
      assert.strictEqual(body.daemonId, "hd-1")
      const wire = yield* Schema.encode(HeyoSandbox.SandboxCreateBody)(body)
      assert.deepStrictEqual(wire, { size_class: "micro", env_vars: { A: "1" }, daemonId: "hd-1", ttl_seconds: 60 })
    }))

  it.effect("is strict on enums and names the field in the error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decodeCreate({ size_class: "gigantic", region: "MARS", ttl_seconds: -1 }))
      const paths = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.path.join("."))
      assert.includeMembers(paths, ["size_class", "region", "ttl_seconds"])
    }))
})

describe("ExecResponse", () => {
  it.effect("defaults missing fields to empty output and exit 0", () =>
    Effect.gen(function*() {
      const result = yield* Schema.decodeUnknown(HeyoExec.ExecResponse)({ stdout: "hi\n" })
      assert.strictEqual(result.stdout, "hi\n")
      assert.strictEqual(result.stderr, "")
      assert.strictEqual(result.exitCode, 0)
    }))
})
