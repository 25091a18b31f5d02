/**
 * The whole path, SDK -> heyod -> real sandboxes: lifecycle, commands, files, list, stop/start,
 * kill, a heyod restart, TTL expiry, and authentication.
 */
import { assert, describe, it } from "@effect/vitest"
import { Sandbox } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i)

const assertClean = async (heyod: Heyod.Heyod) => {
  const stopped = await heyod.stop()
  assert.isBelow(stopped.millis, 10_000, "SIGTERM shutdown took too long")
  assert.deepStrictEqual(Heyod.leftovers(heyod.dataDir), { mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
}

describe("lifecycle through the SDK", () => {
  let heyod: Heyod.Heyod
  beforeAll(async () => {
    heyod = await Heyod.start({ args: ["--ttl-sweep-interval", "100ms"] })
  })
  afterAll(async () => {
    if (heyod !== undefined) await assertClean(heyod)
  })

  it.live("create -> run -> files -> list -> stop/start -> kill", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.create({ name: "e2e-lifecycle", sizeClass: "micro" })
      assert.strictEqual(Option.getOrThrow(sandbox.info).status, "running")

      const uname = yield* sandbox.commands.run("uname -a")
      assert.strictEqual(uname.exitCode, 0)
      assert.match(uname.stdout, /Linux/)
      const hi = yield* sandbox.commands.run("echo hi; echo oops >&2; exit 3")
      assert.deepStrictEqual([hi.stdout, hi.stderr, hi.exitCode], ["hi\n", "oops\n", 3])
      const env = yield* sandbox.commands.run("echo $GREETING; pwd", { env: { GREETING: "hello" }, cwd: "/tmp" })
      assert.strictEqual(env.stdout, "hello\n/tmp\n")

      yield* sandbox.files.write("notes/hello.txt", "héllo wörld\n")
      assert.strictEqual(yield* sandbox.files.readText("notes/hello.txt"), "héllo wörld\n")
      yield* sandbox.files.write("/root/all.bin", allBytes)
      assert.deepStrictEqual([...(yield* sandbox.files.read("/root/all.bin"))], [...allBytes])
      const seen = yield* sandbox.commands.run("cat /workspace/notes/hello.txt; od -An -tx1 /root/all.bin | head -1")
      assert.include(seen.stdout, "héllo wörld")
      assert.include(seen.stdout, "00 01 02 03")

      const listed = yield* Sandbox.list({ name: "e2e-lifecycle" })
      assert.deepStrictEqual(listed.map((s) => s.id), [sandbox.id])

      yield* sandbox.stop()
      assert.strictEqual((yield* sandbox.getInfo()).status, "stopped")
      assert.deepStrictEqual((yield* Sandbox.list()).find((s) => s.id === sandbox.id)?.status, "stopped")
      yield* sandbox.start()
      assert.strictEqual((yield* sandbox.getInfo()).status, "running")
      assert.strictEqual(yield* sandbox.files.readText("notes/hello.txt"), "héllo wörld\n")

      yield* sandbox.kill()
      const gone = yield* Effect.flip(Sandbox.info(sandbox.id))
      assert.strictEqual(gone._tag, "NotFound")
      yield* sandbox.kill() // a second kill is a success: 404 means already gone
    }).pipe(Effect.provide(SdkClient.layer(heyod))), 60_000)

  it.live("a scoped sandbox is killed when its scope closes", () =>
    Effect.gen(function*() {
      const id = yield* Effect.scoped(Effect.map(Sandbox.createScoped({ name: "e2e-scoped" }), (s) => s.id))
      const gone = yield* Effect.flip(Sandbox.info(id))
      assert.strictEqual(gone._tag, "NotFound")
    }).pipe(Effect.provide(SdkClient.layer(heyod))), 60_000)

  it.live("a background process outlives its command and keeps running", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.create({ name: "e2e-background" })
      const started = yield* sandbox.commands.run("sleep 300 & echo started")
      assert.strictEqual(started.stdout, "started\n")
      const ps = yield* sandbox.commands.run("ps -eo args")
      assert.include(ps.stdout, "sleep 300")
      yield* sandbox.kill()
    }).pipe(Effect.provide(SdkClient.layer(heyod))), 60_000)

  it.live("a failing setup hook leaves the sandbox failed with its reason", () =>
    Effect.gen(function*() {
      const hooks = ["echo first > /workspace/one", "echo broken >&2; exit 7"]
      const sandbox = yield* Sandbox.create({ name: "e2e-hook", setupHooks: hooks, waitForReady: 0 })
      const failure = yield* Effect.flip(sandbox.waitForReady())
      assert.strictEqual(failure._tag, "SandboxFailed")
      assert.include(failure.message, "setup hook 2 (echo broken >&2; exit 7) exited with code 7: broken")
      const [info] = yield* Sandbox.list({ name: "e2e-hook" })
      assert.strictEqual(info?.status, "failed")
      yield* sandbox.kill()
      // Sandbox.create itself kills a sandbox that fails to become ready: nothing is left behind.
      const failed = yield* Effect.flip(Sandbox.create({ name: "e2e-hook-2", setupHooks: hooks }))
      assert.strictEqual(failed._tag, "SandboxFailed")
      assert.deepStrictEqual(yield* Sandbox.list({ name: "e2e-hook-2" }), [])
    }).pipe(Effect.provide(SdkClient.layer(heyod))), 60_000)

  it.live("TTL expiry kills the sandbox", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.create({ name: "e2e-ttl", ttl: "1 second" })
      yield* Effect.sleep("1500 millis")
      const gone = yield* Effect.flip(Sandbox.info(sandbox.id))
      assert.strictEqual(gone._tag, "NotFound")
    }).pipe(Effect.provide(SdkClient.layer(heyod))), 60_000)
})

describe("a heyod restart", () => {
  it.live("finds the sandbox running again with its files, and the stopped one stopped", () =>
    Effect.gen(function*() {
      const first = yield* Effect.promise(() => Heyod.start())
      const ids = yield* Effect.gen(function*() {
        const running = yield* Sandbox.create({ name: "survivor", setupHooks: ["echo hooked >> /workspace/hooks.log"] })
        yield* running.files.write("state.txt", "persisted")
        const stopped = yield* Sandbox.create({ name: "sleeper" })
        yield* stopped.stop()
        return { running: running.id, stopped: stopped.id }
      }).pipe(Effect.provide(SdkClient.layer(first)))
      yield* Effect.promise(() => assertClean(first))

      const second = yield* Effect.promise(() => Heyod.start({ dataDir: first.dataDir }))
      yield* Effect.gen(function*() {
        const survivor = yield* Sandbox.info(ids.running)
        assert.strictEqual(survivor.status, "running")
        const handle = yield* Sandbox.connect(ids.running)
        assert.strictEqual(yield* handle.files.readText("state.txt"), "persisted")
        const hooks = yield* handle.commands.run("cat /workspace/hooks.log")
        assert.strictEqual(hooks.stdout, "hooked\n", "setup hooks run once, not at every start")
        assert.strictEqual((yield* Sandbox.info(ids.stopped)).status, "stopped")
        yield* Sandbox.kill(ids.running)
        yield* Sandbox.kill(ids.stopped)
      }).pipe(Effect.provide(SdkClient.layer(second)), Effect.ensuring(Effect.promise(() => assertClean(second))))
    }), 120_000)
})

describe("authentication", () => {
  it.live("a heyod with a key refuses clients without it and serves clients with it", () =>
    Effect.gen(function*() {
      const heyod = yield* Effect.promise(() => Heyod.start({ apiKey: "e2e-secret" }))
      yield* Effect.gen(function*() {
        const anonymous = yield* Effect.flip(Sandbox.list().pipe(Effect.provide(SdkClient.layer(heyod, { apiKey: null }))))
        assert.strictEqual(anonymous._tag, "Authentication")
        const wrong = yield* Effect.flip(Sandbox.list().pipe(Effect.provide(SdkClient.layer(heyod, { apiKey: "wrong" }))))
        assert.strictEqual(wrong._tag, "Authentication")
        yield* Effect.gen(function*() {
          const sandbox = yield* Sandbox.create({ name: "e2e-auth" })
          const out = yield* sandbox.commands.run("echo authed")
          assert.strictEqual(out.stdout, "authed\n")
          yield* sandbox.kill()
        }).pipe(Effect.provide(SdkClient.layer(heyod)))
      }).pipe(Effect.ensuring(Effect.promise(() => assertClean(heyod))))
    }), 120_000)
})
