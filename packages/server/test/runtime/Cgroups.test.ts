import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Cgroups from "../../src/runtime/Cgroups.js"

const limits = { memoryBytes: 512 * 1024 * 1024, cpus: 0.25, pids: 256 }

const roots: Array<string> = []
const children: Array<ReturnType<typeof spawn>> = []
afterAll(() => {
  for (const child of children) child.kill("SIGKILL")
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true })
})

const tempRoot = () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "heyo-cgroups-"))
  roots.push(root)
  return root
}

const touch = (file: string, content = "") => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, content)
}

const read = (file: string) => fs.readFileSync(file, "utf8")

/** A v1 hybrid like the project's machines: nested memory cgroup, cpu co-mounted with cpuacct. */
const fakeV1 = (options: { readonly freezer: boolean }) => {
  const root = tempRoot()
  touch(path.join(root, "memory/process_api/abc/cgroup.procs"))
  touch(path.join(root, "cpu,cpuacct/cgroup.procs"))
  touch(path.join(root, "pids/cgroup.procs"))
  if (options.freezer) touch(path.join(root, "freezer/cgroup.procs"))
  touch(path.join(root, "unified/cgroup.controllers"), "hugetlb\n")
  const selfCgroup = [
    "8:pids:/",
    "6:freezer:/",
    "4:memory:/process_api/abc",
    "2:cpu,cpuacct:/",
    "0::/"
  ].join("\n")
  return { root, selfCgroup }
}

/** A systemd-style v2 tree: heyod in a session scope whose slice hands down memory and pids only. */
const fakeV2 = (available = "cpuset cpu io memory hugetlb pids rdma misc") => {
  const root = tempRoot()
  touch(path.join(root, "cgroup.controllers"), `${available}\n`)
  touch(path.join(root, "cgroup.subtree_control"), "cpu memory pids\n")
  touch(path.join(root, "user.slice/cgroup.controllers"), `${available.split(" ").filter((c) => ["cpu", "memory", "pids"].includes(c)).join(" ")}\n`)
  touch(path.join(root, "user.slice/cgroup.subtree_control"), "memory pids\n")
  touch(path.join(root, "user.slice/session-1.scope/cgroup.controllers"), `${available.split(" ").filter((c) => ["cpu", "memory", "pids"].includes(c)).join(" ")}\n`)
  touch(path.join(root, "user.slice/session-1.scope/cgroup.procs"), `${process.pid}\n`)
  return { root, selfCgroup: "0::/user.slice/session-1.scope\n" }
}

const sleeper = () => {
  const child = spawn("sleep", ["100"], { stdio: "ignore" })
  children.push(child)
  return child
}

describe("Cgroups on a fake v1 tree", () => {
  it.effect("detects each controller's hierarchy and heyod's own place in it", () =>
    Effect.gen(function*() {
      const { root, selfCgroup } = fakeV1({ freezer: true })
      const { layout, warnings } = yield* Cgroups.detect({ root, selfCgroup })
      assert.strictEqual(layout.version, "v1")
      assert.deepStrictEqual(warnings, [])
      if (layout.version !== "v1") return
      const bases = Object.fromEntries(layout.hierarchies.map((h) => [h.controller, h.base]))
      assert.strictEqual(bases.memory, path.join(root, "memory/process_api/abc"))
      assert.strictEqual(bases.cpu, path.join(root, "cpu,cpuacct"))
      assert.strictEqual(bases.pids, path.join(root, "pids"))
      assert.strictEqual(bases.freezer, path.join(root, "freezer"))
    }))

  it.effect("warns about a missing controller and carries on without it", () =>
    Effect.gen(function*() {
      const { root, selfCgroup } = fakeV1({ freezer: false })
      const { layout, warnings } = yield* Cgroups.detect({ root, selfCgroup })
      assert.strictEqual(layout.version, "v1")
      assert.strictEqual(warnings.length, 1)
      assert.match(warnings[0]!, /freezer/)
      const prepared = yield* Cgroups.prepareInstance(layout, "0123abcd")
      const dirs = yield* Cgroups.create(prepared.layout, "0123abcd", "sb-1", limits)
      assert.strictEqual(dirs.length, 3)
    }))

  it.effect("writes the limits: memory (+memsw when offered), cpu quota, pids", () =>
    Effect.gen(function*() {
      const { root, selfCgroup } = fakeV1({ freezer: true })
      const { layout } = yield* Cgroups.detect({ root, selfCgroup })
      const prepared = yield* Cgroups.prepareInstance(layout, "0123abcd")
      assert.deepStrictEqual(prepared.warnings, [])
      // the kernel offers memsw only with swap accounting: simulate it for this sandbox
      const memory = path.join(root, "memory/process_api/abc/heyo-0123abcd/sb-1")
      touch(path.join(memory, "memory.memsw.limit_in_bytes"))
      const dirs = yield* Cgroups.create(prepared.layout, "0123abcd", "sb-1", limits)
      assert.deepStrictEqual([...dirs].sort(), [
        path.join(root, "cpu,cpuacct/heyo-0123abcd/sb-1"),
        path.join(root, "freezer/heyo-0123abcd/sb-1"),
        memory,
        path.join(root, "pids/heyo-0123abcd/sb-1")
      ].sort())
      assert.strictEqual(read(path.join(memory, "memory.limit_in_bytes")), String(512 * 1024 * 1024))
      assert.strictEqual(read(path.join(memory, "memory.memsw.limit_in_bytes")), String(512 * 1024 * 1024))
      assert.strictEqual(read(path.join(root, "cpu,cpuacct/heyo-0123abcd/sb-1/cpu.cfs_period_us")), "100000")
      assert.strictEqual(read(path.join(root, "cpu,cpuacct/heyo-0123abcd/sb-1/cpu.cfs_quota_us")), "25000")
      assert.strictEqual(read(path.join(root, "pids/heyo-0123abcd/sb-1/pids.max")), "256")
      assert.deepStrictEqual(Cgroups.sandboxDirs(prepared.layout, "0123abcd", "sb-1"), dirs)
      // another sandbox without memsw on offer gets none
      yield* Cgroups.create(prepared.layout, "0123abcd", "sb-2", limits)
      assert.isFalse(fs.existsSync(path.join(root, "memory/process_api/abc/heyo-0123abcd/sb-2/memory.memsw.limit_in_bytes")))
    }))

  it.live("remove kills the group's processes (through the freezer) and deletes its directories", () =>
    Effect.gen(function*() {
      const { root, selfCgroup } = fakeV1({ freezer: true })
      const { layout } = yield* Cgroups.detect({ root, selfCgroup })
      const prepared = yield* Cgroups.prepareInstance(layout, "0123abcd")
      const dirs = yield* Cgroups.create(prepared.layout, "0123abcd", "sb-1", limits)
      const child = sleeper()
      const exited = new Promise((resolve) => child.once("exit", (_, signal) => resolve(signal)))
      for (const dir of dirs) touch(path.join(dir, "cgroup.procs"), `${child.pid}\n`)
      const freezer = dirs.find((dir) => dir.includes("freezer"))!
      touch(path.join(freezer, "freezer.state"), "THAWED\n")
      assert.deepStrictEqual(Cgroups.procs(dirs[0]!), [child.pid!])
      yield* Cgroups.remove(dirs, "sb-1")
      assert.strictEqual(yield* Effect.promise(() => exited), "SIGKILL")
      for (const dir of dirs) assert.isFalse(fs.existsSync(dir), dir)
      // the instance directories stay for the next sandbox
      for (const dir of Cgroups.instanceDirs(prepared.layout, "0123abcd")) assert.isTrue(fs.existsSync(dir), dir)
    }))

  it.live("finds this instance's directories wherever they are, and only this instance's", () =>
    Effect.gen(function*() {
      const { root, selfCgroup } = fakeV1({ freezer: true })
      const { layout } = yield* Cgroups.detect({ root, selfCgroup })
      // a previous run from another memory cgroup, and another instance beside it
      fs.mkdirSync(path.join(root, "memory/process_api/old/heyo-0123abcd/sb-9"), { recursive: true })
      fs.mkdirSync(path.join(root, "pids/heyo-0123abcd/sb-9"), { recursive: true })
      fs.mkdirSync(path.join(root, "pids/heyo-ffffffff/sb-1"), { recursive: true })
      const found = Cgroups.findInstanceDirs(layout, "0123abcd")
      assert.deepStrictEqual([...found].sort(), [
        path.join(root, "memory/process_api/old/heyo-0123abcd"),
        path.join(root, "pids/heyo-0123abcd")
      ])
      yield* Cgroups.remove(found)
      for (const dir of found) assert.isFalse(fs.existsSync(dir), dir)
      assert.isTrue(fs.existsSync(path.join(root, "pids/heyo-ffffffff/sb-1")))
    }))
})

describe("Cgroups on a fake v2 tree", () => {
  it.effect("puts sandboxes beside heyod's cgroup and hands the controllers down", () =>
    Effect.gen(function*() {
      const { root, selfCgroup } = fakeV2()
      const { layout, warnings } = yield* Cgroups.detect({ root, selfCgroup })
      assert.deepStrictEqual(warnings, [])
      assert.strictEqual(layout.version, "v2")
      if (layout.version !== "v2") return
      assert.strictEqual(layout.base, path.join(root, "user.slice"))
      assert.deepStrictEqual(layout.controllers, ["memory", "cpu", "pids"])
      const prepared = yield* Cgroups.prepareInstance(layout, "0123abcd")
      assert.deepStrictEqual(prepared.warnings, [])
      // only what the slice lacked is enabled there; the instance gets all three
      assert.strictEqual(read(path.join(root, "user.slice/cgroup.subtree_control")), "+cpu")
      assert.strictEqual(read(path.join(root, "user.slice/heyo-0123abcd/cgroup.subtree_control")), "+memory +cpu +pids")
    }))

  it.effect("writes memory.max, memory.swap.max when offered, cpu.max and pids.max", () =>
    Effect.gen(function*() {
      const { root, selfCgroup } = fakeV2()
      const { layout } = yield* Cgroups.detect({ root, selfCgroup })
      const prepared = yield* Cgroups.prepareInstance(layout, "0123abcd")
      const dir = path.join(root, "user.slice/heyo-0123abcd/sb-1")
      touch(path.join(dir, "memory.swap.max"), "max\n")
      const dirs = yield* Cgroups.create(prepared.layout, "0123abcd", "sb-1", { ...limits, cpus: 1.5 })
      assert.deepStrictEqual(dirs, [dir])
      assert.strictEqual(read(path.join(dir, "memory.max")), String(512 * 1024 * 1024))
      assert.strictEqual(read(path.join(dir, "memory.swap.max")), "0")
      assert.strictEqual(read(path.join(dir, "cpu.max")), "150000 100000")
      assert.strictEqual(read(path.join(dir, "pids.max")), "256")
    }))

  it.effect("without the cpu controller: a warning, and no cpu.max", () =>
    Effect.gen(function*() {
      const { root, selfCgroup } = fakeV2("memory pids")
      const { layout, warnings } = yield* Cgroups.detect({ root, selfCgroup })
      assert.strictEqual(warnings.length, 1)
      assert.match(warnings[0]!, /cpu/)
      const prepared = yield* Cgroups.prepareInstance(layout, "0123abcd")
      const [dir] = yield* Cgroups.create(prepared.layout, "0123abcd", "sb-1", limits)
      assert.isFalse(fs.existsSync(path.join(dir!, "cpu.max")))
      assert.isTrue(fs.existsSync(path.join(dir!, "memory.max")))
    }))

  it.live("remove kills the processes listed in cgroup.procs and deletes the directory", () =>
    Effect.gen(function*() {
      const { root, selfCgroup } = fakeV2()
      const { layout } = yield* Cgroups.detect({ root, selfCgroup })
      const prepared = yield* Cgroups.prepareInstance(layout, "0123abcd")
      const dirs = yield* Cgroups.create(prepared.layout, "0123abcd", "sb-1", limits)
      const child = sleeper()
      const exited = new Promise((resolve) => child.once("exit", (_, signal) => resolve(signal)))
      touch(path.join(dirs[0]!, "cgroup.procs"), `${child.pid}\n`)
      yield* Cgroups.remove(dirs)
      assert.strictEqual(yield* Effect.promise(() => exited), "SIGKILL")
      assert.isFalse(fs.existsSync(dirs[0]!))
    }))
})

describe("Cgroups without any controller", () => {
  it.effect("is 'none' with a warning, and creates nothing", () =>
    Effect.gen(function*() {
      const root = tempRoot()
      const { layout, warnings } = yield* Cgroups.detect({ root, selfCgroup: "0::/\n" })
      assert.strictEqual(layout.version, "none")
      assert.strictEqual(warnings.length, 1)
      assert.deepStrictEqual(yield* Cgroups.create(layout, "0123abcd", "sb-1", limits), [])
      assert.deepStrictEqual(fs.readdirSync(root), [])
    }))
})
