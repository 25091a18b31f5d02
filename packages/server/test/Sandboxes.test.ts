import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Sandboxes, layer as sandboxesLayer } from "../src/engine/Sandboxes.js"
import { defaults, ServerConfig } from "../src/ServerConfig.js"
import * as Store from "../src/state/Store.js"
import * as FakeRuntime from "./support/FakeRuntime.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "heyod-engine-"))

const engine = (fake: ReturnType<typeof FakeRuntime.make>, dataDir = tempDir(), overrides = {}) =>
  sandboxesLayer.pipe(
    Layer.provide(Store.layer(dataDir)),
    Layer.provide(fake.layer),
    Layer.provide(Layer.succeed(ServerConfig, { ...defaults, dataDir, ...overrides }))
  )

const waitForStatus = (id: string, status: string) =>
  Effect.gen(function*() {
    const sandboxes = yield* Sandboxes
    for (let i = 0; i < 200; i++) {
      const record = yield* sandboxes.get(id)
      if (record.status === status) return record
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage(`sandbox ${id} never became ${status}`)
  })

describe("Sandboxes engine", () => {
  it.live("creates a sandbox that becomes running, with the server's defaults", () => {
    const fake = FakeRuntime.make()
    return Effect.gen(function*() {
      const sandboxes = yield* Sandboxes
      const created = yield* sandboxes.create({})
      assert.strictEqual(created.status, "provisioning")
      assert.match(created.id, /^sb-[0-9a-z]{8}$/)
      const running = yield* waitForStatus(created.id, "running")
      assert.strictEqual(running.image, "ubuntu:24.04")
      assert.strictEqual(running.sizeClass, "small")
      assert.strictEqual(fake.state.running.get(created.id)?.limits.memoryBytes, 2 * 1024 ** 3)
    }).pipe(Effect.provide(engine(fake)))
  })

  it.live("refuses duplicate names, id-like names and unknown images", () =>
    Effect.gen(function*() {
      const sandboxes = yield* Sandboxes
      yield* sandboxes.create({ name: "web" })
      const duplicate = yield* Effect.flip(sandboxes.create({ name: "web" }))
      assert.strictEqual(duplicate._tag, "Conflict")
      const idLike = yield* Effect.flip(sandboxes.create({ name: "sb-12345678" }))
      assert.strictEqual(idLike._tag, "InvalidRequest")
      const image = yield* Effect.flip(sandboxes.create({ image: "windows:11" }))
      assert.strictEqual(image._tag, "InvalidRequest")
      assert.include(image.message, "host, ubuntu:24.04")
    }).pipe(Effect.provide(engine(FakeRuntime.make()))))

  it.live("runs setup hooks in order once, and a failing hook leaves the sandbox failed", () => {
    const fake = FakeRuntime.make((_, spec) =>
      spec.argv[2] === "exit 3" ? FakeRuntime.output("", 3, "boom") : FakeRuntime.output("ok")
    )
    return Effect.gen(function*() {
      const sandboxes = yield* Sandboxes
      const good = yield* sandboxes.create({ setupHooks: ["echo one", "echo two"], startCommand: "serve" })
      yield* waitForStatus(good.id, "running")
      assert.deepStrictEqual(fake.state.execs.map((e) => e.spec.argv[2]), ["echo one", "echo two"])
      assert.strictEqual(fake.state.background[0]?.spec.argv[2], "serve")
      yield* sandboxes.restart(good.id)
      assert.strictEqual(fake.state.execs.length, 2, "hooks run at first start only")
      assert.strictEqual(fake.state.background.length, 2, "the start command runs at every start")

      const bad = yield* sandboxes.create({ setupHooks: ["echo one", "exit 3", "echo never"] })
      const failed = yield* waitForStatus(bad.id, "failed")
      assert.include(failed.errorMessage ?? "", "setup hook 2 (exit 3) exited with code 3: boom")
      assert.isFalse(fake.state.running.has(bad.id))
    }).pipe(Effect.provide(engine(fake)))
  })

  it.live("exec merges env vars, defaults the cwd, and needs a running sandbox", () => {
    const fake = FakeRuntime.make(() => FakeRuntime.output("hi\n"))
    return Effect.gen(function*() {
      const sandboxes = yield* Sandboxes
      const { id } = yield* sandboxes.create({ envVars: { A: "1", B: "2" }, workingDirectory: "/srv" })
      yield* waitForStatus(id, "running")
      const out = yield* sandboxes.exec(id, { command: "echo hi", env: { B: "3" } })
      assert.strictEqual(new TextDecoder().decode(out.stdout), "hi\n")
      const spec = fake.state.execs.at(-1)!.spec
      assert.deepStrictEqual(spec.env, { A: "1", B: "3" })
      assert.strictEqual(spec.cwd, "/srv")
      assert.deepStrictEqual(spec.argv, ["sh", "-c", "echo hi", "sh"])
      yield* sandboxes.stop(id)
      const refused = yield* Effect.flip(sandboxes.exec(id, { command: "true" }))
      assert.strictEqual(refused._tag, "Conflict")
      const missing = yield* Effect.flip(sandboxes.exec("sb-00000000", { command: "true" }))
      assert.strictEqual(missing._tag, "SandboxNotFound")
    }).pipe(Effect.provide(engine(fake)))
  })

  it.live("resolves file paths under the mount path", () => {
    const fake = FakeRuntime.make()
    return Effect.gen(function*() {
      const sandboxes = yield* Sandboxes
      const { id } = yield* sandboxes.create({})
      yield* waitForStatus(id, "running")
      const written = yield* sandboxes.writeFile(id, "src/a.txt", "/workspace", new Uint8Array([1, 2]))
      assert.strictEqual(written.path, "/workspace/src/a.txt")
      assert.strictEqual((yield* sandboxes.writeFile(id, "../../etc/x", "/workspace", new Uint8Array())).path, "/etc/x")
      assert.strictEqual((yield* sandboxes.writeFile(id, "/abs/../b", "/workspace", new Uint8Array())).path, "/b")
      const read = yield* sandboxes.readFile(id, "/workspace/src/a.txt", "/ignored")
      assert.deepStrictEqual([...read.content], [1, 2])
      const missing = yield* Effect.flip(sandboxes.readFile(id, "nope", "/workspace"))
      assert.strictEqual(missing._tag, "FileFailed")
    }).pipe(Effect.provide(engine(fake)))
  })

  it.live("the TTL sweep kills expired sandboxes; setTtl(0) removes the limit", () => {
    const fake = FakeRuntime.make()
    return Effect.gen(function*() {
      const sandboxes = yield* Sandboxes
      const doomed = yield* sandboxes.create({ ttlSeconds: 1 })
      const kept = yield* sandboxes.create({ ttlSeconds: 1 })
      yield* sandboxes.setTtl(kept.id, 0)
      yield* Effect.sleep("1300 millis")
      const left = (yield* sandboxes.list()).map((r) => r.id)
      assert.deepStrictEqual(left, [kept.id])
      assert.isFalse(fake.state.created.has(doomed.id))
    }).pipe(Effect.provide(engine(fake, tempDir(), { ttlSweepInterval: Duration.millis(50) })))
  })

  it.live("a new engine over the same state restarts what was running and keeps what was stopped", () => {
    const dataDir = tempDir()
    const first = FakeRuntime.make()
    return Effect.gen(function*() {
      const ids = yield* Effect.gen(function*() {
        const sandboxes = yield* Sandboxes
        const a = yield* sandboxes.create({ name: "a" })
        const b = yield* sandboxes.create({ name: "b" })
        yield* waitForStatus(a.id, "running")
        yield* waitForStatus(b.id, "running")
        yield* sandboxes.stop(b.id)
        return [a.id, b.id] as const
      }).pipe(Effect.provide(engine(first, dataDir)))

      const second = FakeRuntime.make()
      yield* Effect.gen(function*() {
        const sandboxes = yield* Sandboxes
        assert.strictEqual((yield* sandboxes.get(ids[0])).status, "running")
        assert.strictEqual((yield* sandboxes.get(ids[1])).status, "stopped")
        assert.isTrue(second.state.running.has(ids[0]))
        assert.isFalse(second.state.running.has(ids[1]))
        assert.strictEqual((yield* sandboxes.resolve("b")).id, ids[1])
      }).pipe(Effect.provide(engine(second, dataDir)))
    })
  })
})
