import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Commands from "../src/Commands.js"
import * as Files from "../src/Files.js"
import * as Sandbox from "../src/Sandbox.js"
import * as Testing from "../src/Testing.js"

describe("Testing.layer", () => {
  it.effect("creates, lists and kills in-memory sandboxes with the SDK's defaults", () =>
    Effect.gen(function*() {
      const a = yield* Sandbox.create({ name: "a" })
      const b = yield* Sandbox.create({ name: "b", sizeClass: "large" })
      assert.strictEqual(a.id, "sb-00000001")
      const info = Option.getOrThrow(b.info)
      assert.deepStrictEqual([info.status, info.image, info.region, info.sizeClass], ["running", "ubuntu:24.04", "US", "large"])
      assert.deepStrictEqual((yield* Sandbox.list({ name: "b" })).map((s) => s.id), [b.id])
      yield* a.kill()
      yield* a.kill()
      assert.deepStrictEqual((yield* Sandbox.list()).map((s) => s.name), ["b"])
      const e = yield* Effect.flip(Sandbox.info(a.id))
      assert.strictEqual(e._tag, "NotFound")
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("names are unique and arguments are validated as by the real client", () =>
    Effect.gen(function*() {
      yield* Sandbox.create({ name: "a" })
      const dup = yield* Effect.flip(Sandbox.create({ name: "a" }))
      assert.strictEqual(dup._tag === "Api" && dup.status, 409)
      const bad = yield* Effect.flip(Sandbox.create({ openPorts: [70000] }))
      assert.strictEqual(bad._tag, "InvalidArgument")
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("runs commands through the handler, which sees the sandbox's files", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.create()
      yield* sandbox.files.write("VERSION", "1.2.3\n")
      const cat = yield* sandbox.commands.run("cat VERSION")
      assert.deepStrictEqual({ ...cat }, { stdout: "1.2.3\n", stderr: "", output: "1.2.3\n", exitCode: 0 })
      yield* sandbox.commands.run("build")
      assert.strictEqual(yield* sandbox.files.readText("/workspace/dist/out.txt"), "built")
      const unknown = yield* sandbox.commands.run("rm -rf /")
      assert.strictEqual(unknown.exitCode, 127)
      const mock = yield* Testing.Mock
      assert.deepStrictEqual((yield* mock.commands).map((c) => c.command), ["cat VERSION", "build", "rm -rf /"])
    }).pipe(Effect.provide(Testing.layer({
      exec: (_id, command, { files }) => {
        if (command === "cat VERSION") return { stdout: files.readText("VERSION") ?? "" }
        if (command === "build") {
          files.write("dist/out.txt", "built")
          return {}
        }
        return { stderr: "unknown\n", exitCode: 127 }
      }
    }))))

  it.effect("files are per sandbox; a missing file is FileNotFound, a missing sandbox NotFound", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.all([Sandbox.create(), Sandbox.create()])
      yield* Files.write(a!.id, "x.txt", "a")
      assert.strictEqual((yield* Effect.flip(Files.read(b!.id, "x.txt")))._tag, "FileNotFound")
      assert.strictEqual((yield* Effect.flip(Files.read("sb-nope", "x.txt")))._tag, "NotFound")
      assert.strictEqual(yield* Files.readText(a!.id, "/workspace/x.txt"), "a")
      assert.strictEqual(yield* Files.readText(a!.id, "x.txt", { mountPath: "/workspace" }), "a")
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("a stopped sandbox refuses commands until started", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.create()
      yield* sandbox.stop()
      const e = yield* Effect.flip(sandbox.commands.run("ls"))
      assert.strictEqual(e._tag === "Api" && e.status, 409)
      yield* sandbox.start()
      assert.strictEqual((yield* sandbox.commands.run("ls")).exitCode, 0)
      yield* sandbox.setTtl("10 minutes")
      assert.strictEqual((yield* sandbox.refresh()).ttlSeconds, 600)
    }).pipe(Effect.provide(Testing.layer({ exec: () => ({}) }))))

  it.effect("seeds sandboxes and files", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.connect("sb-seeded")
      assert.strictEqual(yield* sandbox.files.readText("README.md"), "# hi")
      assert.strictEqual((yield* sandbox.refresh()).name, "dev")
    }).pipe(Effect.provide(Testing.layer({ sandboxes: [{ id: "sb-seeded", name: "dev", files: { "README.md": "# hi" } }] }))))

  it.effect("onCreate: failed -> SandboxFailed and the sandbox is gone", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Sandbox.create())
      assert.strictEqual(e._tag === "SandboxFailed" && e.reason, "no capacity")
      assert.strictEqual((yield* (yield* Testing.Mock).sandboxes).length, 0)
    }).pipe(Effect.provide(Testing.layer({ onCreate: () => ({ status: "failed", errorMessage: "no capacity" }) }))))

  it.effect("onCreate: provisioning, then setStatus, on the test clock", () =>
    Effect.gen(function*() {
      const mock = yield* Testing.Mock
      const fiber = yield* Effect.fork(Sandbox.create())
      yield* TestClock.adjust("2 seconds")
      yield* mock.setStatus("sb-00000001", "running")
      yield* TestClock.adjust("2 seconds")
      const sandbox = yield* Fiber.join(fiber)
      assert.strictEqual(Option.getOrThrow(sandbox.info).status, "running")
    }).pipe(Effect.provide(Testing.layer({ onCreate: () => ({ status: "provisioning" }) }))))

  it.effect("createScoped kills at scope close", () =>
    Effect.gen(function*() {
      const mock = yield* Testing.Mock
      yield* Effect.scoped(Sandbox.createScoped())
      assert.strictEqual((yield* mock.sandboxes).length, 0)
    }).pipe(Effect.provide(Testing.layer())))
})

describe("Layer.mock", () => {
  it.effect("stubs a single service method", () =>
    Effect.gen(function*() {
      const result = yield* Commands.run("any", "echo hi")
      assert.strictEqual(result.stdout, "hi\n")
    }).pipe(Effect.provide(Layer.mock(Commands.Commands, {
      run: () => Effect.succeed(new Commands.CommandResult({ stdout: "hi\n" }))
    }))))
})
