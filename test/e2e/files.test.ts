/**
 * Files end to end: the SDK's Files service -> heyod's Sprites-dialect fs routes -> a file tool
 * joined into a real sandbox. Every operation, the errno-typed failures, byte ranges, streamed
 * writes, and watch events for changes made both through Files and by a command in the sandbox.
 */
import { assert, describe, it } from "@effect/vitest"
import { Commands, Files, HeyoError, Sandbox } from "@heyo-effect/sdk"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import { afterAll, beforeAll, expect } from "vitest"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const KEY = "files-key"

/** Host processes running the file tool on `marker` (its operation is in its argv). */
const toolProcesses = (marker: string) => {
  const found: Array<string> = []
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")
      if (cmdline.includes("\"op\":") && cmdline.includes(marker)) found.push(pid)
    } catch {
      // gone while we looked
    }
  }
  return found
}

describe("Files against heyod", () => {
  let heyod: Heyod.Heyod
  let id: string
  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    id = await Effect.runPromise(
      Sandbox.create({ name: "e2e-files" }).pipe(Effect.map((s) => s.id as string), Effect.provide(SdkClient.layer(heyod)))
    )
  })
  afterAll(async () => {
    if (heyod === undefined) return
    await heyod.stop()
    // no tool process, watcher, mount or cgroup outlives heyod
    expect(Heyod.leftovers(heyod.dataDir)).toEqual({ mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
  })
  const run = <A, E>(effect: Effect.Effect<A, E, Files.Files | Commands.Commands | Sandbox.Sandbox>) =>
    effect.pipe(Effect.provide(SdkClient.layer(heyod)))

  it.live("write then read: text, bytes, a Stream; relative to /workspace by default", () =>
    run(Effect.gen(function*() {
      yield* Files.write(id, "hello.txt", "héllo\n")
      assert.strictEqual(yield* Files.readText(id, "hello.txt"), "héllo\n")
      assert.strictEqual(yield* Files.readText(id, "/workspace/hello.txt"), "héllo\n")
      const bytes = new Uint8Array(256).map((_, i) => i)
      yield* Files.write(id, "/tmp/bytes.bin", bytes)
      assert.deepStrictEqual(yield* Files.read(id, "/tmp/bytes.bin"), bytes)
      const parts = ["a", "b", "c"].map((s) => new TextEncoder().encode(s.repeat(100_000)))
      yield* Files.write(id, "deep/er/streamed.txt", Stream.fromIterable(parts))
      const back = yield* Files.readStream(id, "deep/er/streamed.txt").pipe(Stream.runCollect)
      const total = Chunk.reduce(back, 0, (n, c) => n + c.byteLength)
      assert.strictEqual(total, 300_000)
      // the command sees what Files wrote: the same sandbox filesystem
      const out = yield* Commands.run(id, "cat /workspace/hello.txt && stat -c %s /workspace/deep/er/streamed.txt")
      assert.strictEqual(out.stdout, "héllo\n300000\n")
    })))

  it.live("byte ranges, mode on write, mkdirParents off", () =>
    run(Effect.gen(function*() {
      yield* Files.write(id, "range.txt", "0123456789")
      assert.strictEqual(yield* Files.readText(id, "range.txt", { range: { start: 2, end: 5 } }), "2345")
      assert.strictEqual(yield* Files.readText(id, "range.txt", { range: { start: 7 } }), "789")
      yield* Files.write(id, "secret.txt", "s", { mode: 0o600 })
      assert.strictEqual((yield* Files.stat(id, "secret.txt")).mode, 0o600)
      const missing = yield* Effect.flip(Files.write(id, "no/such/dir/f.txt", "x", { mkdirParents: false }))
      assert.strictEqual(missing._tag, "FileNotFound")
    })))

  it.live("list, stat, exists, mkdir, copy, rename, chmod, chown, remove", () =>
    run(Effect.gen(function*() {
      yield* Files.mkdir(id, "proj/src")
      yield* Files.write(id, "proj/src/a.ts", "a")
      yield* Files.write(id, "proj/src/b.js", "bb")
      yield* Files.write(id, "proj/README.md", "readme")
      const top = yield* Files.list(id, "proj")
      assert.deepStrictEqual(top.map((e) => [e.name, e.type]), [["README.md", "file"], ["src", "directory"]])
      const all = yield* Files.list(id, "proj", { recursive: true })
      assert.deepStrictEqual(all.map((e) => e.path), ["/workspace/proj/README.md", "/workspace/proj/src", "/workspace/proj/src/a.ts", "/workspace/proj/src/b.js"])
      const ts = yield* Files.list(id, "proj", { recursive: true, pattern: "*.ts" })
      assert.deepStrictEqual(ts.map((e) => e.name), ["a.ts"])
      const dir = yield* Files.stat(id, "proj/src")
      assert.strictEqual(dir.type, "directory")
      assert.isTrue(dir.isDirectory)
      assert.strictEqual((yield* Files.stat(id, "proj/src/b.js")).size, 2)
      assert.isTrue(yield* Files.exists(id, "proj/README.md"))
      assert.isFalse(yield* Files.exists(id, "proj/nope"))

      yield* Files.copy(id, "proj", "proj2", { recursive: true })
      assert.strictEqual(yield* Files.readText(id, "proj2/src/b.js"), "bb")
      yield* Files.rename(id, "proj2/README.md", "proj2/NOTES.md")
      assert.isFalse(yield* Files.exists(id, "proj2/README.md"))
      assert.strictEqual(yield* Files.readText(id, "proj2/NOTES.md"), "readme")
      yield* Files.chmod(id, "proj2", 0o700, { recursive: true })
      assert.strictEqual((yield* Files.stat(id, "proj2/NOTES.md")).mode, 0o700)
      yield* Files.chown(id, "proj2/NOTES.md", { uid: "nobody", gid: 65534 })
      const owner = yield* Commands.run(id, "stat -c %u:%g /workspace/proj2/NOTES.md")
      assert.strictEqual(owner.stdout, "65534:65534\n")

      const notEmpty = yield* Effect.flip(Files.remove(id, "proj2"))
      assert.strictEqual(notEmpty._tag, "DirectoryNotEmpty")
      yield* Files.remove(id, "proj2", { recursive: true })
      assert.isFalse(yield* Files.exists(id, "proj2"))
      yield* Files.remove(id, "proj2", { force: true })
      const gone = yield* Effect.flip(Files.remove(id, "proj2"))
      assert.strictEqual(gone._tag, "FileNotFound")
    })))

  it.live("failures are typed per errno, with the path", () =>
    run(Effect.gen(function*() {
      const missing = yield* Effect.flip(Files.read(id, "/nope/missing.txt"))
      assert.instanceOf(missing, HeyoError.FileNotFound)
      if (missing._tag === "FileNotFound") {
        assert.strictEqual(missing.code, "ENOENT")
        assert.strictEqual(missing.path, "/nope/missing.txt")
      }
      yield* Files.mkdir(id, "adir")
      assert.strictEqual((yield* Effect.flip(Files.read(id, "adir")))._tag, "IsADirectory")
      yield* Files.write(id, "afile", "x")
      assert.strictEqual((yield* Effect.flip(Files.write(id, "afile/child", "x")))._tag, "NotADirectory")
      assert.strictEqual((yield* Effect.flip(Files.mkdir(id, "adir", { recursive: false })))._tag, "FileExists")
      // /usr is the image's read-only layer
      assert.strictEqual((yield* Effect.flip(Files.write(id, "/usr/heyo-test", "x")))._tag, "PermissionDenied")
      assert.strictEqual((yield* Effect.flip(Files.chmod(id, "afile", 0o10000)))._tag, "InvalidArgument")
      const unknown = yield* Effect.flip(Sandbox.Sandbox.pipe(Effect.flatMap(() => Files.read("sb-doesnotexist", "x"))))
      assert.strictEqual(unknown._tag, "NotFound")
    })))

  it.live("watch sees writes, creates, chmods and removes, from Files and from commands", () =>
    run(Effect.gen(function*() {
      yield* Files.mkdir(id, "watched")
      const events = yield* Files.watch(id, "watched", { recursive: true }).pipe(
        Stream.takeUntil((e) => e.kind === "remove" && e.path === "/workspace/watched/sub"),
        Stream.runCollect,
        Effect.timeout("20 seconds"),
        Effect.fork
      )
      // let the watch subscribe before changing anything
      yield* Effect.sleep("1500 millis")
      yield* Files.write(id, "watched/one.txt", "1")
      yield* Files.chmod(id, "watched/one.txt", 0o600)
      yield* Commands.run(id, "mkdir /workspace/watched/sub && echo hi > /workspace/watched/sub/two.txt")
      yield* Effect.sleep("300 millis")
      yield* Commands.run(id, "echo more >> /workspace/watched/sub/two.txt")
      yield* Effect.sleep("300 millis")
      yield* Files.remove(id, "watched/sub", { recursive: true })
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(events)).map((e) => `${e.kind} ${e.path}`)
      for (
        const expected of [
          "create /workspace/watched/one.txt",
          "chmod /workspace/watched/one.txt",
          "create /workspace/watched/sub",
          "create /workspace/watched/sub/two.txt",
          "write /workspace/watched/sub/two.txt",
          "remove /workspace/watched/sub/two.txt",
          "remove /workspace/watched/sub"
        ]
      ) assert.include(seen, expected, `events: ${seen.join(", ")}`)
    })), 60_000)

  it.live("abandoning a read midway ends its tool process in the sandbox", () =>
    run(Effect.gen(function*() {
      yield* Commands.runOrFail(id, "head -c 67108864 /dev/zero > /workspace/zeros.bin")
      const first = yield* Files.readStream(id, "zeros.bin").pipe(Stream.take(1), Stream.runCollect)
      assert.strictEqual(Chunk.size(first), 1)
      // the tool's argv names the file: none may be left once the stream was abandoned
      let left: Array<string> = []
      for (let i = 0; i < 40; i++) {
        left = toolProcesses("zeros.bin")
        if (left.length === 0) break
        yield* Effect.sleep("50 millis")
      }
      assert.deepStrictEqual(left, [])
    })))

  it.live("a stopped sandbox answers 409, not a file error", () =>
    run(Effect.gen(function*() {
      const other = yield* Sandbox.create({ name: "e2e-files-stopped" })
      yield* other.stop()
      const error = yield* Effect.flip(Files.read(other.id, "x"))
      assert.strictEqual(error._tag, "Api")
      if (error._tag === "Api") assert.strictEqual(error.status, 409)
      yield* other.kill()
    })))

  it.live("watching a missing path fails with FileNotFound", () =>
    run(Effect.gen(function*() {
      const error = yield* Effect.flip(Files.watch(id, "/no/such/dir").pipe(Stream.runDrain, Effect.timeout("10 seconds")))
      assert.strictEqual(error._tag, "FileNotFound")
    })))
})
