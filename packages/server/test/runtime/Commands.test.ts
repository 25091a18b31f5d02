import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Join from "../../src/runtime/Join.js"
import * as Mounts from "../../src/runtime/Mounts.js"
import * as SandboxFiles from "../../src/runtime/SandboxFiles.js"

const bytes = (text: string) => new TextEncoder().encode(text)

describe("Join.command", () => {
  it.effect("builds a clean environment under the caller's, then the working directory and argv", () =>
    Effect.gen(function*() {
      const argv = yield* Join.command({ argv: ["ls", "-l"], cwd: "/workspace", env: { FOO: "bar", HOME: "/home/x" } }, "box", "sb-1")
      assert.deepStrictEqual(argv, [
        "/usr/bin/env",
        "-i",
        "-C",
        "/workspace",
        "--",
        `PATH=${Join.defaultPath}`,
        "HOME=/home/x",
        "LANG=C.UTF-8",
        "HOSTNAME=box",
        "FOO=bar",
        "ls",
        "-l"
      ])
    }))

  it.effect("refuses what env or the kernel cannot carry", () =>
    Effect.gen(function*() {
      const fails = (spec: Parameters<typeof Join.command>[0]) =>
        Join.command(spec, "box", "sb-1").pipe(Effect.flip, Effect.map((e) => e.message))
      assert.match(yield* fails({ argv: [], cwd: "/", env: {} }), /empty/)
      assert.match(yield* fails({ argv: ["A=B"], cwd: "/", env: {} }), /=/)
      assert.match(yield* fails({ argv: ["true"], cwd: "/", env: { "A=B": "c" } }), /invalid environment/)
      assert.match(yield* fails({ argv: ["true"], cwd: "/", env: { A: "x\0y" } }), /NUL/)
      assert.match(yield* fails({ argv: ["echo", "a\0b"], cwd: "/", env: {} }), /NUL/)
    }))

  it("joins the cgroups before running the command", () => {
    const tools = { sh: "/bin/sh", nsenter: "/usr/bin/nsenter" } as Parameters<typeof Join.inCgroups>[0]
    const command = Join.inCgroups(tools, ["/cg/memory/x", "/cg/pids/x"], Join.nsenter(tools, 42, ["true"]))
    assert.strictEqual(command.file, "/bin/sh")
    assert.deepStrictEqual(command.args.slice(2), [
      "heyo-join",
      "/cg/memory/x/cgroup.procs",
      "/cg/pids/x/cgroup.procs",
      "--",
      "/usr/bin/nsenter",
      "-t",
      "42",
      "--all",
      "-r",
      "-w",
      "--",
      "true"
    ])
  })
})

describe("SandboxFiles", () => {
  it("maps tool messages to reasons", () => {
    const reason = (stderr: string) => SandboxFiles.errorFrom("/x", bytes(stderr), 1).reason
    assert.strictEqual(reason("cat: /x: No such file or directory\n"), "NotFound")
    assert.strictEqual(reason("cat: /x: Is a directory\n"), "IsDirectory")
    assert.strictEqual(reason("mkdir: cannot create directory '/etc/passwd': Not a directory\n"), "NotDirectory")
    assert.strictEqual(reason("heyo-write: 1: cannot create /usr/x: Read-only file system\n"), "ReadOnly")
    assert.strictEqual(reason("cat: /proc/1/mem: Permission denied\n"), "PermissionDenied")
    const other = SandboxFiles.errorFrom("/x", bytes("cat: /x: Input/output error\n"), 1)
    assert.strictEqual(other.reason, "Other")
    assert.include(other.message, "Input/output error")
  })

  it("writes through a shell that creates the parent first", () => {
    assert.deepStrictEqual(SandboxFiles.writeArgv("/a/b/c.txt").slice(3), ["heyo-write", "/a/b", "/a/b/c.txt"])
    assert.deepStrictEqual(SandboxFiles.writeArgv("c.txt").slice(3), ["heyo-write", ".", "c.txt"])
    assert.isDefined(SandboxFiles.invalidPath(""))
    assert.isDefined(SandboxFiles.invalidPath("a\0b"))
    assert.isUndefined(SandboxFiles.invalidPath("../../etc/passwd"))
  })
})

describe("Mounts.parseMountInfo", () => {
  it("reads mount points with the kernel's escapes", () => {
    const entries = Mounts.parseMountInfo([
      "43 27 0:39 / /tmp/d\\040x/state rw,relatime - btrfs /dev/loop0 rw,space_cache=v2",
      "47 27 0:43 / /run/heyo-1/sandboxes/sb-1 rw,relatime shared:5 - overlay overlay rw,lowerdir=/a"
    ].join("\n"))
    assert.deepStrictEqual(entries, [
      { mountPoint: "/tmp/d x/state", fsType: "btrfs", source: "/dev/loop0" },
      { mountPoint: "/run/heyo-1/sandboxes/sb-1", fsType: "overlay", source: "overlay" }
    ])
  })
})
