/**
 * The in-memory Files of `Testing.layer` behaves like the fs routes: directories, modes,
 * errno-typed failures, trees moved and copied whole, and watch events.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as Files from "../src/Files.js"
import * as Testing from "../src/Testing.js"

const layer = () => Testing.layer({ sandboxes: [{ id: "sb-1", files: { "seed.txt": "seed" } }] })

describe("Testing.layer Files", () => {
  it.effect("write, read, streams and ranges; seeded files are there", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Files.readText("sb-1", "seed.txt"), "seed")
      yield* Files.write("sb-1", "a/b.txt", Stream.make(new TextEncoder().encode("01234"), new TextEncoder().encode("56789")))
      assert.strictEqual(yield* Files.readText("sb-1", "/workspace/a/b.txt"), "0123456789")
      assert.strictEqual(yield* Files.readText("sb-1", "a/b.txt", { range: { start: 3, end: 5 } }), "345")
      const chunks = yield* Files.readStream("sb-1", "a/b.txt").pipe(Stream.runCollect)
      assert.strictEqual(Chunk.size(chunks), 1)
      assert.strictEqual((yield* Effect.flip(Files.write("sb-1", "x/y.txt", "z", { mkdirParents: false })))._tag, "FileNotFound")
      assert.strictEqual((yield* Effect.flip(Files.write("sb-1", "a/b.txt/c", "z")))._tag, "NotADirectory")
      assert.strictEqual((yield* Effect.flip(Files.read("sb-1", "a")))._tag, "IsADirectory")
      assert.strictEqual((yield* Effect.flip(Files.read("sb-1", "nope")))._tag, "FileNotFound")
    }).pipe(Effect.provide(layer())))

  it.effect("list, stat, mkdir, copy, rename, chmod, chown, remove", () =>
    Effect.gen(function*() {
      yield* Files.mkdir("sb-1", "p/empty")
      yield* Files.write("sb-1", "p/src/a.ts", "a", { mode: 0o600 })
      yield* Files.write("sb-1", "p/src/b.js", "bb")
      assert.deepStrictEqual((yield* Files.list("sb-1", "p")).map((e) => [e.name, e.type]), [["empty", "directory"], ["src", "directory"]])
      assert.deepStrictEqual((yield* Files.list("sb-1", "p", { recursive: true, pattern: "*.ts" })).map((e) => e.path), ["/workspace/p/src/a.ts"])
      const stat = yield* Files.stat("sb-1", "p/src/a.ts")
      assert.deepStrictEqual([stat.type, stat.size, stat.mode], ["file", 1, 0o600])
      assert.isTrue((yield* Files.stat("sb-1", "p/empty")).isDirectory)
      assert.strictEqual((yield* Effect.flip(Files.mkdir("sb-1", "p/empty", { recursive: false })))._tag, "FileExists")
      yield* Files.copy("sb-1", "p", "q", { recursive: true })
      assert.strictEqual(yield* Files.readText("sb-1", "q/src/b.js"), "bb")
      assert.strictEqual((yield* Effect.flip(Files.copy("sb-1", "p", "r")))._tag, "IsADirectory")
      yield* Files.rename("sb-1", "q", "r")
      assert.isFalse(yield* Files.exists("sb-1", "q"))
      assert.isTrue(yield* Files.exists("sb-1", "r/empty"))
      yield* Files.chmod("sb-1", "r", 0o700, { recursive: true })
      assert.strictEqual((yield* Files.stat("sb-1", "r/src/b.js")).mode, 0o700)
      yield* Files.chown("sb-1", "r", { uid: "nobody" })
      assert.strictEqual((yield* Effect.flip(Files.chown("sb-1", "r", { uid: "ghost" })))._tag, "FilesystemError")
      assert.strictEqual((yield* Effect.flip(Files.remove("sb-1", "r")))._tag, "DirectoryNotEmpty")
      yield* Files.remove("sb-1", "r", { recursive: true })
      assert.isFalse(yield* Files.exists("sb-1", "r/src/b.js"))
      yield* Files.remove("sb-1", "r", { force: true })
    }).pipe(Effect.provide(layer())))

  it.effect("watch sees what Files changes under the watched path", () =>
    Effect.gen(function*() {
      yield* Files.mkdir("sb-1", "w")
      const fiber = yield* Files.watch("sb-1", "w", { recursive: true }).pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      // let the watch subscribe before anything changes
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      yield* Files.write("sb-1", "elsewhere.txt", "ignored")
      yield* Files.write("sb-1", "w/deep/f.txt", "1")
      yield* Files.chmod("sb-1", "w/deep/f.txt", 0o600)
      yield* Files.remove("sb-1", "w/deep/f.txt")
      const events = Chunk.toReadonlyArray(yield* Fiber.join(fiber)).map((e) => `${e.kind} ${e.path}`)
      assert.deepStrictEqual(events, [
        "create /workspace/w/deep/f.txt",
        "write /workspace/w/deep/f.txt",
        "chmod /workspace/w/deep/f.txt",
        "remove /workspace/w/deep/f.txt"
      ])
      assert.strictEqual((yield* Effect.flip(Files.watch("sb-1", "nope").pipe(Stream.runDrain)))._tag, "FileNotFound")
    }).pipe(Effect.provide(layer())))

  it.effect("a stopped sandbox refuses file operations; an unknown one is NotFound", () =>
    Effect.gen(function*() {
      const mock = yield* Testing.Mock
      yield* mock.setStatus("sb-1", "stopped")
      assert.strictEqual((yield* Effect.flip(Files.read("sb-1", "seed.txt")))._tag, "Api")
      assert.strictEqual((yield* Effect.flip(Files.read("sb-none", "seed.txt")))._tag, "NotFound")
    }).pipe(Effect.provide(layer())))
})
