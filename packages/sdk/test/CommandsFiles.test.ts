import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"
import * as Commands from "../src/Commands.js"
import * as Files from "../src/Files.js"
import * as Sandbox from "../src/Sandbox.js"
import { type Recorded, type Reply, sdk } from "./utils/mockHttp.js"

const base64 = (s: string) => Buffer.from(s).toString("base64")

describe("Commands", () => {
  const server = (reply: (r: Recorded) => Reply) => sdk(reply)

  it.effect("POSTs {command, cwd, env} and decodes the result; a non-zero exit is a value", () => {
    const { layer, requests } = server(() => ({ json: { stdout: "", stderr: "missing\n", output: "missing\n", exit_code: 2 } }))
    return Effect.gen(function*() {
      const result = yield* Commands.run("sb-1", "ls nope", { cwd: "/tmp", env: { A: "1" } })
      assert.deepStrictEqual(
        { ...result },
        { stdout: "", stderr: "missing\n", output: "missing\n", exitCode: 2 }
      )
      assert.strictEqual(requests[0]?.path, "/sandbox/sb-1/exec")
      assert.deepStrictEqual(requests[0]?.body, { command: "ls nope", cwd: "/tmp", env: { A: "1" } })
    }).pipe(Effect.provide(layer))
  })

  it.effect("missing result fields read as empty / 0", () => {
    const { layer } = server(() => ({ json: {} }))
    return Effect.gen(function*() {
      const result = yield* Commands.run("sb-1", "true")
      assert.deepStrictEqual({ ...result }, { stdout: "", stderr: "", output: "", exitCode: 0 })
    }).pipe(Effect.provide(layer))
  })

  it.effect("runOrFail fails with CommandFailed on a non-zero exit", () => {
    const { layer } = server(() => ({ json: { stdout: "", stderr: "boom\n", exit_code: 3 } }))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Commands.runOrFail("sb-1", "make"))
      assert.strictEqual(e._tag, "CommandFailed")
      if (e._tag === "CommandFailed") assert.deepStrictEqual([e.exitCode, e.stderr, e.command], [3, "boom\n", "make"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("an empty command is refused before sending", () => {
    const { layer, requests } = server(() => ({ json: {} }))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Commands.run("sb-1", ""))
      assert.strictEqual(e.message, "invalid argument: command: command must not be empty")
      assert.strictEqual(requests.length, 0)
    }).pipe(Effect.provide(layer))
  })
})

describe("Files", () => {
  // The fake server has no GET /capabilities (a 404 there means "no extensions", as on the Heyo
  // cloud), so Files takes the base64 routes; `calls` leaves that capabilities probe out.
  const calls = (requests: ReadonlyArray<Recorded>) => requests.filter((r) => r.path !== "/capabilities")

  it.effect("read decodes base64 from read-file (default mount /workspace)", () => {
    const { layer, requests: all } = sdk((r) =>
      r.path === "/capabilities" ? { status: 404, json: {} } : { json: { content: base64("héllo"), file_path: "a.txt" } }
    )
    return Effect.gen(function*() {
      const bytes = yield* Files.read("sb-1", "a.txt")
      assert.deepStrictEqual(bytes, new TextEncoder().encode("héllo"))
      assert.strictEqual(yield* Files.readText("sb-1", "a.txt", { mountPath: "/data" }), "héllo")
      const requests = calls(all)
      assert.strictEqual(requests[0]?.path, "/sandbox/sb-1/read-file")
      assert.deepStrictEqual(requests[0]?.body, { file_path: "a.txt", mount_path: "/workspace" })
      assert.deepStrictEqual(requests[1]?.body, { file_path: "a.txt", mount_path: "/data" })
    }).pipe(Effect.provide(layer))
  })

  it.effect("write sends base64 content for strings and bytes", () => {
    const { layer, requests: all } = sdk(() => ({ status: 201, json: { status: "created" } }))
    return Effect.gen(function*() {
      yield* Files.write("sb-1", "src/main.py", "print(1)\n")
      yield* Files.write("sb-1", "blob", new Uint8Array([0, 255]), { mountPath: "/data" })
      const requests = calls(all)
      assert.strictEqual(requests[0]?.path, "/sandbox/sb-1/write-file")
      assert.deepStrictEqual(requests[0]?.body, { file_path: "src/main.py", mount_path: "/workspace", content: base64("print(1)\n") })
      assert.deepStrictEqual(requests[1]?.body, { file_path: "blob", mount_path: "/data", content: "AP8=" })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a missing file is NotFound", () => {
    const { layer } = sdk(() => ({ status: 404, json: { message: "file not found" } }))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Files.readText("sb-1", "nope"))
      assert.strictEqual(e.message, "file not found (calling POST /sandbox/sb-1/read-file)")
    }).pipe(Effect.provide(layer))
  })
})

describe("SandboxHandle", () => {
  it.effect("delegates commands and files to the services", () => {
    const { layer, requests } = sdk((r) =>
      r.path.endsWith("/exec") ? { json: { stdout: "hi\n", exit_code: 0 } } : { json: { content: base64("x") } }
    )
    return Effect.gen(function*() {
      const sandbox = yield* Sandbox.connect("sb-9")
      assert.strictEqual((yield* sandbox.commands.run("echo hi")).stdout, "hi\n")
      assert.strictEqual(yield* sandbox.files.readText("f"), "x")
      assert.deepStrictEqual(requests.map((r) => r.path), ["/sandbox/sb-9/exec", "/capabilities", "/sandbox/sb-9/read-file"])
    }).pipe(Effect.provide(layer))
  })
})

describe("spans", () => {
  it.effect("every public call is a span annotated with sandbox.id", () => {
    const spans: Array<Tracer.Span> = []
    const recording = Effect.map(Effect.tracer, (base) =>
      Tracer.make({
        span: (...args) => {
          const span = base.span(...args)
          spans.push(span)
          return span
        },
        context: base.context
      }))
    const { layer } = sdk((r) =>
      r.path === "/sandbox-deploy" ? { json: { id: "sb-7" } } : { json: { stdout: "", exit_code: 0 } }
    )
    return Effect.gen(function*() {
      const sandbox = yield* Sandbox.create({ waitForReady: 0 })
      yield* sandbox.commands.run("true")
      const ours = spans.filter((s) => !s.name.startsWith("http.client"))
      assert.deepStrictEqual(ours.map((s) => [s.name, s.attributes.get("sandbox.id")]), [
        ["Sandbox.create", "sb-7"],
        ["Commands.run", "sb-7"]
      ])
    }).pipe(Effect.provide(layer), (test) => Effect.flatMap(recording, (tracer) => Effect.withTracer(test, tracer)))
  })
})
