/**
 * The namespace runtime with `storage: "dir"` (no btrfs image), and recovery from a crashed
 * runtime: a new one on the same data dir cleans up exactly that instance's leftovers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as NamespaceRuntime from "../../packages/server/src/runtime/NamespaceRuntime.js"
import { Runtime } from "../../packages/server/src/runtime/Runtime.js"
import {
  assertClean,
  bytes,
  harness,
  instanceIdOf,
  leftovers,
  makeDataDir,
  micro,
  removeIfClean,
  sh,
  text
} from "./support.js"

const h = harness("dir")
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

describe("NamespaceRuntime (dir storage)", () => {
  it.live("uses a plain directory and no loop image", () =>
    Effect.gen(function*() {
      const runtime = yield* h.runtime
      assert.strictEqual(runtime.info.storage, "dir")
      assert.isFalse(fs.existsSync(path.join(h.dataDir, "state.img")))
      assert.isTrue(fs.statSync(path.join(h.dataDir, "state/images/host")).isDirectory())
      const mounts = fs.readFileSync("/proc/mounts", "utf8").split("\n").filter((l) => l.includes(`${h.dataDir}/state `))
      assert.deepStrictEqual(mounts, [])
    }))

  it.live("runs the whole lifecycle", () =>
    Effect.gen(function*() {
      const runtime = yield* h.runtime
      yield* runtime.create("sb-dir", "debian:12")
      yield* runtime.start({ id: "sb-dir", image: "host", hostname: "dirbox", limits: micro })
      const hi = yield* sh(runtime, "sb-dir", "echo hi; hostname; id -u")
      assert.strictEqual(hi.out, "hi\ndirbox\n0\n")
      yield* runtime.writeFile("sb-dir", "/workspace/a.txt", bytes("dir storage"))
      // files written by the sandbox's root are owned by the shifted uid on the host
      const upper = path.join(h.dataDir, "state/sandboxes/sb-dir/upper/workspace/a.txt")
      assert.strictEqual(fs.statSync(upper).uid, 100000)
      yield* runtime.stop("sb-dir")
      yield* runtime.start({ id: "sb-dir", image: "host", hostname: "dirbox", limits: micro })
      assert.strictEqual(text(yield* runtime.readFile("sb-dir", "/workspace/a.txt")), "dir storage")
      yield* runtime.destroy("sb-dir")
      assert.isFalse(fs.existsSync(path.join(h.dataDir, "state/sandboxes/sb-dir")))
      yield* runtime.create("sb-dir2", "host")
      yield* runtime.start({ id: "sb-dir2", image: "host", hostname: "dirbox2", limits: micro })
    }))

  it.live("refuses a second runtime on the same data dir, leaving the first unharmed", () =>
    Effect.gen(function*() {
      const second = yield* Layer.build(NamespaceRuntime.layer({ dataDir: h.dataDir, storage: "dir" })).pipe(
        Effect.scoped,
        Effect.flip
      )
      assert.strictEqual(second._tag, "RuntimeError")
      assert.include(second.message, "in use")
      const runtime = yield* h.runtime
      assert.isTrue(yield* runtime.isRunning("sb-dir2"))
      assert.strictEqual((yield* sh(runtime, "sb-dir2", "echo still")).out, "still\n")
    }))

  it.live("release leaves nothing behind", () =>
    Effect.gen(function*() {
      const millis = yield* Effect.promise(() => h.release())
      assert.isBelow(millis, 10_000)
      assertClean(h.dataDir)
    }))
})

const otherInstance = "0f0f0f0f"

describe("crash recovery", () => {
  it.live("a new runtime removes a crashed one's leftovers, only its own, and keeps its files", () =>
    Effect.gen(function*() {
      const dataDir = makeDataDir()
      // a crashed heyod: killed without any chance to clean up
      const child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "test/runtime/crash-child.ts"), dataDir, "auto"], {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout.on("data", (d: Buffer) => (output += d.toString()))
      child.stderr.on("data", (d: Buffer) => (output += d.toString()))
      yield* Effect.promise(() =>
        new Promise<void>((resolve, reject) => {
          child.stdout.on("data", () => output.includes("ready\n") && resolve())
          child.once("exit", (code) => reject(new Error(`crash child exited with ${code}: ${output}`)))
        })
      )
      child.kill("SIGKILL")
      yield* Effect.promise(() => new Promise((resolve) => child.once("exit", resolve)))
      const left = leftovers(dataDir)
      assert.isAbove(left.mounts.length, 0, "the crash left mounts")
      assert.isAbove(left.netns.length, 0, "the crash left a netns")
      assert.isAbove(left.cgroups.length, 0, "the crash left cgroups")
      // another instance's resources on the same machine
      execFileSync("ip", ["netns", "add", `heyo-${otherInstance}-sb-1`])
      fs.mkdirSync(`/sys/fs/cgroup/pids/heyo-${otherInstance}/sb-1`, { recursive: true })
      try {
        yield* Effect.gen(function*() {
          const runtime = yield* Runtime
          assert.strictEqual(runtime.info.instanceId, instanceIdOf(dataDir))
          const during = leftovers(dataDir)
          assert.deepStrictEqual(during.netns, [])
          assert.deepStrictEqual(during.processes, [])
          assert.isFalse(fs.existsSync(`/run/heyo-${runtime.info.instanceId}/sandboxes/sb-crash`))
          assert.isFalse(yield* runtime.isRunning("sb-crash"))
          yield* runtime.create("sb-crash", "host")
          yield* runtime.start({ id: "sb-crash", image: "host", hostname: "crash", limits: micro })
          assert.strictEqual(text(yield* runtime.readFile("sb-crash", "/workspace/before-crash.txt")), "still here")
          assert.notInclude((yield* sh(runtime, "sb-crash", "ps -eo args")).out, "sleep 1000")
        }).pipe(Effect.provide(Layer.fresh(NamespaceRuntime.layer({ dataDir, storage: "auto" }))))
        assertClean(dataDir)
        assert.isTrue(fs.existsSync(`/run/netns/heyo-${otherInstance}-sb-1`))
        assert.isTrue(fs.existsSync(`/sys/fs/cgroup/pids/heyo-${otherInstance}/sb-1`))
        removeIfClean(dataDir)
      } finally {
        execFileSync("ip", ["netns", "delete", `heyo-${otherInstance}-sb-1`])
        fs.rmdirSync(`/sys/fs/cgroup/pids/heyo-${otherInstance}/sb-1`)
        fs.rmdirSync(`/sys/fs/cgroup/pids/heyo-${otherInstance}`)
      }
    }), 90_000)
})
