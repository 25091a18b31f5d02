import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Sandbox from "../src/Sandbox.js"
import { info, type Recorded, type Reply, sdk } from "./utils/mockHttp.js"

/** A fake server: create answers 202 `sb-1`, GET answers the statuses in turn (last one repeats). */
const lifecycle = (statuses: ReadonlyArray<Reply>, other: (r: Recorded) => Reply = () => ({ status: 204 })) => {
  let polls = 0
  return sdk((r) => {
    if (r.method === "POST" && r.path === "/sandbox-deploy") return { status: 202, json: { id: "sb-1", status: "provisioning" } }
    if (r.method === "GET" && r.path === "/deployed-sandboxes/sb-1") return statuses[Math.min(polls++, statuses.length - 1)]!
    return other(r)
  })
}
const status = (s: string, extra: Record<string, unknown> = {}): Reply => ({ json: info("sb-1", s, extra) })
const calls = (requests: ReadonlyArray<Recorded>) => requests.map((r) => `${r.method} ${r.path}`)

describe("Sandbox.create", () => {
  it.effect("sends the cloud defaults, snake_case, and does not wait when waitForReady is 0", () => {
    const { layer, requests } = lifecycle([status("running")])
    return Effect.gen(function*() {
      const sandbox = yield* Sandbox.create({ waitForReady: 0 })
      assert.strictEqual(sandbox.id, "sb-1")
      assert.isTrue(Option.isNone(sandbox.info))
      assert.deepStrictEqual(calls(requests), ["POST /sandbox-deploy"])
      assert.deepStrictEqual(requests[0]?.body, { region: "US", image: "ubuntu:24.04", size_class: "small", open_ports: [] })
      assert.strictEqual(requests[0]?.headers["content-type"], "application/json")
    }).pipe(Effect.provide(layer))
  })

  it.effect("maps every option to its wire field", () => {
    const { layer, requests } = lifecycle([status("running")])
    return Effect.gen(function*() {
      yield* Sandbox.create({
        name: "agent",
        image: "bun",
        region: "EU",
        driver: "firecracker",
        sizeClass: "large",
        openPorts: [3000],
        startCommand: "bun run dev",
        ttl: "90.5 seconds",
        diskSizeGb: 20,
        workingDirectory: "/workspace/app",
        envVars: { A: "1" },
        setupHooks: ["apt-get update"],
        archiveId: "ar-1",
        waitForReady: 0
      })
      assert.deepStrictEqual(requests[0]?.body, {
        name: "agent",
        image: "bun",
        region: "EU",
        driver: "firecracker",
        size_class: "large",
        open_ports: [3000],
        start_command: "bun run dev",
        ttl_seconds: 91,
        disk_size_gb: 20,
        working_directory: "/workspace/app",
        env_vars: { A: "1" },
        setup_hooks: ["apt-get update"],
        archive_id: "ar-1"
      })
    }).pipe(Effect.provide(layer))
  })

  it.effect("refuses an invalid option before sending anything", () => {
    const { layer, requests } = lifecycle([status("running")])
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Sandbox.create({ diskSizeGb: 999 }))
      assert.strictEqual(e._tag, "InvalidArgument")
      assert.strictEqual(e.message, "invalid argument: diskSizeGb: Expected a number between 1 and 250, actual 999")
      assert.strictEqual(requests.length, 0)
    }).pipe(Effect.provide(layer))
  })

  it.effect("waits for running by polling, fast at first (50 ms, then doubling)", () => {
    const { layer, requests } = lifecycle([status("provisioning"), status("provisioning"), status("running")])
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Sandbox.create({ name: "x" }))
      yield* TestClock.adjust("100 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("50 millis")
      const sandbox = yield* Fiber.join(fiber)
      assert.strictEqual(Option.getOrThrow(sandbox.info).status, "running")
      assert.deepStrictEqual(calls(requests), [
        "POST /sandbox-deploy",
        "GET /deployed-sandboxes/sb-1",
        "GET /deployed-sandboxes/sb-1",
        "GET /deployed-sandboxes/sb-1"
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a failed sandbox is SandboxFailed with the server's reason, and is killed", () => {
    const { layer, requests } = lifecycle([status("provisioning"), status("failed", { error_message: "image pull failed" })])
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Sandbox.create())
      yield* TestClock.adjust("2 seconds")
      const e = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(e._tag, "SandboxFailed")
      if (e._tag === "SandboxFailed") assert.deepStrictEqual([e.sandboxId, e.reason], ["sb-1", "image pull failed"])
      assert.strictEqual(calls(requests).at(-1), "DELETE /deployed-sandboxes/sb-1")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a wait that times out kills the sandbox it created", () => {
    const { layer, requests } = lifecycle([status("provisioning")])
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Sandbox.create({ waitForReady: "30 seconds" }))
      yield* TestClock.adjust("30 seconds")
      const e = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(e._tag, "Timeout")
      assert.strictEqual(calls(requests).at(-1), "DELETE /deployed-sandboxes/sb-1")
    }).pipe(Effect.provide(layer))
  })

  it.effect("interrupting create while it waits kills the sandbox", () => {
    const { layer, requests } = lifecycle([status("provisioning")])
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Sandbox.create())
      yield* TestClock.adjust("4 seconds")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(calls(requests).at(-1), "DELETE /deployed-sandboxes/sb-1")
    }).pipe(Effect.provide(layer))
  })
})

describe("Sandbox.waitForReady", () => {
  it.effect("keeps polling through NotFound and unknown statuses", () => {
    const { layer } = lifecycle([{ status: 404 }, status("booting"), status("running")])
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Sandbox.waitForReady("sb-1"))
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual((yield* Fiber.join(fiber)).status, "running")
    }).pipe(Effect.provide(layer))
  })

  it.effect("reports 'no reason reported' when the server gives none", () => {
    const { layer } = lifecycle([status("failed")])
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Sandbox.waitForReady("sb-1"))
      assert.strictEqual(e._tag === "SandboxFailed" && e.reason, "no reason reported")
    }).pipe(Effect.provide(layer))
  })

  it.effect("fails with Timeout at the deadline (default 5 minutes), naming the last status", () => {
    const { layer, requests } = lifecycle([status("provisioning")])
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Sandbox.waitForReady("sb-1"))
      yield* TestClock.adjust("299 seconds")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 second")
      const e = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(e._tag, "Timeout")
      assert.strictEqual(e.message, "sandbox sb-1 not ready after 5m (status provisioning)")
      // Polls at 0, 0.05, 0.15, 0.35, 0.75, 1.55 s, then every 2 s from 3.55 s to 299.55 s
      // (and maybe one at 300 s, racing the deadline).
      assert.include([155, 156], requests.length)
    }).pipe(Effect.provide(layer))
  })

  it.effect("returns a stopped sandbox as it is (the trap: check status)", () => {
    const { layer } = lifecycle([status("stopped")])
    return Effect.gen(function*() {
      assert.strictEqual((yield* Sandbox.waitForReady("sb-1")).status, "stopped")
    }).pipe(Effect.provide(layer))
  })
})

describe("Sandbox.createScoped", () => {
  it.effect("kills the sandbox when the scope closes", () => {
    const { layer, requests } = lifecycle([status("running")])
    return Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const sandbox = yield* Sandbox.createScoped()
        assert.strictEqual(Option.getOrThrow(sandbox.info).status, "running")
        assert.notInclude(calls(requests), "DELETE /deployed-sandboxes/sb-1")
      }))
      assert.strictEqual(calls(requests).at(-1), "DELETE /deployed-sandboxes/sb-1")
    }).pipe(Effect.provide(layer))
  })

  it.effect("kills it also when the work inside the scope fails, ignoring kill errors", () => {
    const { layer, requests } = lifecycle([status("running")], () => ({ status: 500 }))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.scoped(Effect.gen(function*() {
        yield* Sandbox.createScoped()
        return yield* Effect.fail("agent crashed" as const)
      })))
      assert.strictEqual(e, "agent crashed")
      assert.strictEqual(calls(requests).at(-1), "DELETE /deployed-sandboxes/sb-1")
    }).pipe(Effect.provide(layer))
  })

  it.effect("kills it when the wait fails", () => {
    const { layer, requests } = lifecycle([status("failed")])
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.scoped(Sandbox.createScoped()))
      assert.strictEqual(e._tag, "SandboxFailed")
      assert.strictEqual(calls(requests).at(-1), "DELETE /deployed-sandboxes/sb-1")
    }).pipe(Effect.provide(layer))
  })
})

describe("Sandbox lifecycle calls", () => {
  it.effect("kill treats 404 as success", () => {
    const { layer } = lifecycle([], () => ({ status: 404, json: { message: "gone" } }))
    return Sandbox.kill("sb-1").pipe(Effect.provide(layer))
  })

  it.effect("kill reports other failures", () => {
    const { layer } = lifecycle([], () => ({ status: 409, json: { message: "busy" } }))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Sandbox.kill("sb-1"))
      assert.strictEqual(e._tag, "Api")
    }).pipe(Effect.provide(layer))
  })

  it.effect("stop, start, restart and setTtl use their routes", () => {
    const { layer, requests } = lifecycle([])
    return Effect.gen(function*() {
      const sandbox = yield* Sandbox.connect("sb-1")
      assert.strictEqual(requests.length, 0)
      yield* sandbox.stop()
      yield* sandbox.start()
      yield* sandbox.restart()
      yield* sandbox.setTtl("1 hour")
      yield* sandbox.kill()
      assert.deepStrictEqual(calls(requests), [
        "POST /sandbox/sb-1/stop",
        "POST /sandbox/sb-1/start",
        "POST /deployed-sandboxes/sb-1/restart",
        "POST /deployed-sandboxes/sb-1/ttl",
        "DELETE /deployed-sandboxes/sb-1"
      ])
      assert.deepStrictEqual(requests[3]?.body, { ttl_seconds: 3600 })
    }).pipe(Effect.provide(layer))
  })

  it.effect("list sends ?name= and filters again for servers that ignore it", () => {
    const { layer, requests } = sdk(() => ({ json: [info("sb-1", "running"), { ...info("sb-2", "running"), name: "web" }] }))
    return Effect.gen(function*() {
      const all = yield* Sandbox.list()
      assert.strictEqual(all.length, 2)
      assert.isFalse(requests[0]!.query.has("name"))
      const web = yield* Sandbox.list({ name: "web" })
      assert.deepStrictEqual(web.map((s) => s.id), ["sb-2"])
      assert.strictEqual(requests[1]!.query.get("name"), "web")
    }).pipe(Effect.provide(layer))
  })

  it.effect("refresh remembers the latest info on the handle", () => {
    const { layer } = lifecycle([status("running", { urls: [{ subdomain: "a", url: "https://a.heyo.computer", port: 3000 }] })])
    return Effect.gen(function*() {
      const sandbox = yield* Sandbox.connect("sb-1")
      assert.isTrue(Option.isNone(sandbox.info))
      const fresh = yield* sandbox.refresh()
      assert.strictEqual(fresh.hostFor(3000), "https://a.heyo.computer")
      assert.deepStrictEqual(sandbox.info, Option.some(fresh))
    }).pipe(Effect.provide(layer))
  })
})
