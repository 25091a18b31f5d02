/**
 * The namespace runtime on the real machine, btrfs storage: lifecycle, commands, files, escapes,
 * isolation, limits, and what release leaves behind (nothing).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as NamespaceRuntime from "../../packages/server/src/runtime/NamespaceRuntime.js"
import { Runtime } from "../../packages/server/src/runtime/Runtime.js"
import { assertClean, bytes, cgroupDir, eventually, harness, instanceIdOf, micro, sh, text } from "./support.js"

const h = harness("auto")

const started = new Set<string>()
const up = (id: string, limits = micro) =>
  Effect.gen(function*() {
    const runtime = yield* h.runtime
    if (started.has(id) && (yield* runtime.isRunning(id))) return runtime
    yield* runtime.create(id, "host")
    yield* runtime.start({ id, image: "host", hostname: id, limits })
    started.add(id)
    return runtime
  })

describe("NamespaceRuntime (btrfs)", () => {
  it.live("describes itself: btrfs storage, cgroup v1, an instance id, the host image", () =>
    Effect.gen(function*() {
      const runtime = yield* h.runtime
      assert.strictEqual(runtime.info.storage, "btrfs")
      assert.strictEqual(runtime.info.cgroups, "v1")
      assert.match(runtime.info.instanceId, /^[0-9a-f]{8}$/)
      assert.strictEqual(runtime.info.instanceId, instanceIdOf(h.dataDir))
      assert.deepStrictEqual(runtime.images.map((i) => i.name), ["host"])
      assert.include(runtime.images[0]!.aliases, "ubuntu:24.04")
      assert.isAbove(runtime.images[0]!.description.length, 10)
      assert.strictEqual(runtime.resolveImage("debian:12"), "host")
      assert.isUndefined(runtime.resolveImage("alpine:3"))
      const mounts = fs.readFileSync("/proc/mounts", "utf8")
      assert.include(mounts, `${h.dataDir}/state btrfs`)
    }))

  it.live("creates and starts a sandbox, measured", () =>
    Effect.gen(function*() {
      const runtime = yield* h.runtime
      const t0 = performance.now()
      yield* runtime.create("sb-main", "ubuntu:24.04")
      const t1 = performance.now()
      yield* runtime.start({ id: "sb-main", image: "host", hostname: "main-box", limits: micro })
      const t2 = performance.now()
      started.add("sb-main")
      assert.isTrue(yield* runtime.isRunning("sb-main"))
      // start again is a no-op; create again is idempotent
      yield* runtime.start({ id: "sb-main", image: "host", hostname: "main-box", limits: micro })
      yield* runtime.create("sb-main", "host")
      const rounds: Array<number> = []
      for (let i = 0; i < 20; i++) {
        const t = performance.now()
        yield* runtime.exec("sb-main", { argv: ["true"], cwd: "/", env: {} })
        rounds.push(performance.now() - t)
      }
      rounds.sort((a, b) => a - b)
      console.log(
        `create ${(t1 - t0).toFixed(1)} ms, start ${(t2 - t1).toFixed(1)} ms, exec true median ${
          rounds[10]!.toFixed(1)
        } ms (p90 ${rounds[18]!.toFixed(1)})`
      )
    }))

  it.live("runs commands: output, exit codes, stdin, env, cwd", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      const uname = yield* sh(runtime, "sb-main", "uname -a")
      assert.strictEqual(uname.exitCode, 0)
      assert.match(uname.out, /^Linux main-box /)
      const hi = yield* runtime.exec("sb-main", { argv: ["echo", "hi"], cwd: "/", env: {} })
      assert.strictEqual(text(hi.stdout), "hi\n")
      assert.strictEqual(text(hi.output), "hi\n")
      assert.strictEqual(hi.stderr.length, 0)
      assert.strictEqual((yield* sh(runtime, "sb-main", "exit 42")).exitCode, 42)
      assert.strictEqual((yield* sh(runtime, "sb-main", "kill -9 $$")).exitCode, 137)
      const both = yield* sh(runtime, "sb-main", "echo out; echo err >&2; sleep 0.05; echo out2")
      assert.strictEqual(both.out, "out\nout2\n")
      assert.strictEqual(both.err, "err\n")
      assert.strictEqual(text(both.output), "out\nerr\nout2\n")
      const stdin = yield* runtime.exec("sb-main", { argv: ["wc", "-c"], cwd: "/", env: {}, stdin: new Uint8Array(100_000) })
      assert.strictEqual(text(stdin.stdout).trim(), "100000")
      const noStdin = yield* sh(runtime, "sb-main", "cat; echo done")
      assert.strictEqual(noStdin.out, "done\n")
      const env = yield* sh(runtime, "sb-main", "echo \"$FOO|$HOME|$LANG|$HOSTNAME|$PATH\"; env | wc -l", {
        env: { FOO: "bar baz" }
      })
      assert.strictEqual(
        env.out.split("\n")[0],
        "bar baz|/root|C.UTF-8|main-box|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
      )
      // nothing of heyod's own environment comes through
      assert.isBelow(Number(env.out.split("\n")[1]), 10)
      assert.strictEqual((yield* sh(runtime, "sb-main", "pwd")).out, "/workspace\n")
      assert.strictEqual((yield* sh(runtime, "sb-main", "pwd", { cwd: "/tmp" })).out, "/tmp\n")
      const missing = yield* sh(runtime, "sb-main", "pwd", { cwd: "/no/such/dir" })
      assert.notStrictEqual(missing.exitCode, 0)
      assert.include(missing.err, "/no/such/dir")
      const notFound = yield* runtime.exec("sb-main", { argv: ["no-such-command"], cwd: "/", env: {} })
      assert.strictEqual(notFound.exitCode, 127)
      const id = yield* sh(runtime, "sb-main", "id -u; cat /proc/self/uid_map")
      assert.deepStrictEqual(id.out.trim().split(/\s+/), ["0", "0", "100000", "65536"])
    }))

  it.live("runs commands in parallel", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      const results = yield* Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i),
        (i) => sh(runtime, "sb-main", `sleep 0.2; echo ${i}`),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results.map((r) => r.out.trim()), results.map((_, i) => String(i)))
    }))

  it.live("a background process outlives its exec and does not hold the call", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      const t = Date.now()
      const result = yield* sh(runtime, "sb-main", "sleep 1001 & echo started")
      assert.isBelow(Date.now() - t, 1000)
      assert.strictEqual(result.out, "started\n")
      const ps = yield* sh(runtime, "sb-main", "ps -eo args")
      assert.include(ps.out, "sleep 1001")
    }))

  it.live("interrupting an exec kills the command's whole process group", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      const outcome = yield* sh(runtime, "sb-main", "sleep 1002 & sleep 1003").pipe(
        Effect.timeout("300 millis"),
        Effect.either
      )
      assert.strictEqual(outcome._tag, "Left")
      yield* eventually(sh(runtime, "sb-main", "ps -eo args"), (ps) => !ps.out.includes("sleep 1002") && !ps.out.includes("sleep 1003"))
    }))

  it.live("spawnBackground appends the command's output to a host log file", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      const log = path.join(h.dataDir, "bg.log")
      yield* runtime.spawnBackground("sb-main", {
        argv: ["sh", "-c", "echo bg-out; echo bg-err >&2; echo $GREETING"],
        cwd: "/",
        env: { GREETING: "hello" }
      }, log)
      yield* eventually(Effect.sync(() => fs.existsSync(log) ? fs.readFileSync(log, "utf8") : ""), (content) =>
        content.includes("bg-out") && content.includes("bg-err") && content.includes("hello"))
    }))

  it.live("reads and writes files, binary-safe, creating parent directories", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      const all = new Uint8Array(256 * 4).map((_, i) => i % 256)
      yield* runtime.writeFile("sb-main", "/workspace/deep/er/all-bytes.bin", all)
      const back = yield* runtime.readFile("sb-main", "/workspace/deep/er/all-bytes.bin")
      assert.deepStrictEqual([...back], [...all])
      const digest = yield* sh(runtime, "sb-main", "sha256sum < /workspace/deep/er/all-bytes.bin")
      assert.strictEqual(digest.out.split(" ")[0], crypto.createHash("sha256").update(all).digest("hex"))
      const big = crypto.randomBytes(8 * 1024 * 1024)
      yield* runtime.writeFile("sb-main", "/tmp/big.bin", big)
      assert.isTrue(Buffer.from(yield* runtime.readFile("sb-main", "/tmp/big.bin")).equals(big))
      yield* runtime.writeFile("sb-main", "/workspace/empty", new Uint8Array(0))
      assert.strictEqual((yield* runtime.readFile("sb-main", "/workspace/empty")).length, 0)
    }))

  it.live("maps file errors to reasons", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      const reason = <A>(effect: Effect.Effect<A, { readonly _tag: string }>) =>
        effect.pipe(Effect.flip, Effect.map((e) => e._tag === "SandboxFileError" ? (e as unknown as { reason: string }).reason : e._tag))
      assert.strictEqual(yield* reason(runtime.readFile("sb-main", "/no/such/file")), "NotFound")
      assert.strictEqual(yield* reason(runtime.readFile("sb-main", "/workspace")), "IsDirectory")
      assert.strictEqual(yield* reason(runtime.writeFile("sb-main", "/usr/heyo-test", bytes("x"))), "ReadOnly")
      assert.strictEqual(yield* reason(runtime.writeFile("sb-main", "/etc/passwd/x", bytes("x"))), "NotDirectory")
      assert.strictEqual(yield* reason(runtime.writeFile("sb-main", "/workspace", bytes("x"))), "IsDirectory")
      assert.strictEqual(yield* reason(runtime.readFile("sb-nope", "/etc/passwd")), "SandboxNotRunning")
    }))

  it.live("paths cannot escape the sandbox: .., absolute paths, symlinks", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      const tag = crypto.randomBytes(4).toString("hex")
      const hostPasswd = fs.readFileSync("/etc/passwd", "utf8")
      const passwd = text(yield* runtime.readFile("sb-main", "../../../../etc/passwd"))
      assert.match(passwd, /^root:x:0:0:/)
      assert.notStrictEqual(passwd, hostPasswd)
      assert.strictEqual(passwd, (yield* sh(runtime, "sb-main", "cat /etc/passwd")).out)
      // absolute and relative writes land in the sandbox
      yield* runtime.writeFile("sb-main", `/etc/heyo-escape-${tag}`, bytes("abs"))
      yield* runtime.writeFile("sb-main", `../../../../tmp/heyo-escape-${tag}`, bytes("rel"))
      assert.isFalse(fs.existsSync(`/etc/heyo-escape-${tag}`))
      assert.isFalse(fs.existsSync(`/tmp/heyo-escape-${tag}`))
      assert.strictEqual(text(yield* runtime.readFile("sb-main", `/etc/heyo-escape-${tag}`)), "abs")
      assert.strictEqual(text(yield* runtime.readFile("sb-main", `/tmp/heyo-escape-${tag}`)), "rel")
      // a symlink to a host path resolves inside the sandbox
      const hostFile = path.join(os.tmpdir(), `heyo-host-${tag}`)
      fs.writeFileSync(hostFile, "host")
      yield* sh(runtime, "sb-main", `ln -s ${hostFile} /workspace/link-${tag} && ln -s ${h.dataDir}/instance-id /workspace/id-${tag}`)
      yield* runtime.writeFile("sb-main", `/workspace/link-${tag}`, bytes("sandbox"))
      assert.strictEqual(fs.readFileSync(hostFile, "utf8"), "host")
      assert.strictEqual(text(yield* runtime.readFile("sb-main", hostFile)), "sandbox")
      const viaLink = yield* runtime.readFile("sb-main", `/workspace/id-${tag}`).pipe(Effect.flip)
      assert.strictEqual(viaLink._tag, "SandboxFileError")
      fs.rmSync(hostFile)
      // heyod's data dir is not visible at all
      assert.notStrictEqual((yield* sh(runtime, "sb-main", `ls ${h.dataDir}`)).exitCode, 0)
    }))

  it.live("isolates sandboxes from each other and from the host", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      yield* up("sb-other")
      yield* runtime.writeFile("sb-main", "/workspace/secret", bytes("main only"))
      yield* sh(runtime, "sb-main", "sleep 4321 &")
      const other = yield* runtime.readFile("sb-other", "/workspace/secret").pipe(Effect.flip)
      assert.strictEqual(other._tag, "SandboxFileError")
      const ps = yield* sh(runtime, "sb-other", "ps -eo pid,args")
      assert.notInclude(ps.out, "4321")
      // only its own init (bwrap as PID 1, sleep), the shell and ps
      const lines = ps.out.trim().split("\n").slice(1)
      assert.match(lines[0]!.trim(), /^1 .*bwrap/)
      assert.isAtMost(lines.length, 5)
      // the sandbox's root is not the host's: host sysctls, its network, /usr are out of reach
      const sysctl = yield* sh(runtime, "sb-main", "echo 1 > /proc/sys/kernel/sysrq")
      assert.notStrictEqual(sysctl.exitCode, 0)
      assert.notStrictEqual((yield* sh(runtime, "sb-main", "ip link set lo down")).exitCode, 0)
      assert.notStrictEqual((yield* sh(runtime, "sb-main", "ip addr add 10.9.9.9/24 dev lo")).exitCode, 0)
      assert.notStrictEqual((yield* sh(runtime, "sb-main", "mount -o remount,rw /usr")).exitCode, 0)
      assert.notStrictEqual((yield* sh(runtime, "sb-main", "touch /usr/bin/heyo-test")).exitCode, 0)
      const interfaces = yield* sh(runtime, "sb-main", "ls /proc/sys/net/ipv4/conf")
      assert.deepStrictEqual(interfaces.out.trim().split("\n").sort(), ["all", "default", "lo"])
      // it may serve on :80 inside its own loopback
      const bind80 = yield* sh(
        runtime,
        "sb-main",
        "python3 -c \"import socket; s = socket.socket(); s.bind(('127.0.0.1', 80)); print('bound')\""
      )
      assert.strictEqual(bind80.out, "bound\n")
    }))

  it.live("cannot reach heyod's loopback or anything outside", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-main")
      const server = net.createServer((socket) => socket.end("hello from the host\n"))
      yield* Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)))
      const port = (server.address() as net.AddressInfo).port
      try {
        const probe = (host: string) =>
          sh(
            runtime,
            "sb-main",
            `python3 -c "import socket; socket.create_connection(('${host}', ${port}), timeout=2)" 2>&1 | tail -1`
          )
        const loopback = yield* probe("127.0.0.1")
        assert.include(loopback.out, "ConnectionRefused")
        const outside = yield* probe("10.0.2.2")
        assert.match(outside.out, /unreachable/i)
      } finally {
        server.close()
      }
    }))

  it.live("stop and start keep the files; a stopped sandbox runs nothing", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-persist")
      yield* runtime.writeFile("sb-persist", "/root/kept.txt", bytes("kept"))
      yield* sh(runtime, "sb-persist", "sleep 1004 &")
      const t0 = performance.now()
      yield* runtime.stop("sb-persist")
      const stopMs = performance.now() - t0
      assert.isFalse(yield* runtime.isRunning("sb-persist"))
      yield* runtime.stop("sb-persist")
      const notRunning = yield* sh(runtime, "sb-persist", "true").pipe(Effect.flip)
      assert.strictEqual((notRunning as { _tag: string })._tag, "SandboxNotRunning")
      assert.notInclude(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }), "sleep 1004")
      assert.isUndefined(cgroupDir(h.dataDir, "pids", "sb-persist"))
      assert.notInclude(fs.readdirSync("/run/netns").join(" "), `-sb-persist`)
      const t1 = performance.now()
      yield* runtime.start({ id: "sb-persist", image: "host", hostname: "persist", limits: micro })
      const startMs = performance.now() - t1
      console.log(`stop ${stopMs.toFixed(1)} ms, start again ${startMs.toFixed(1)} ms`)
      assert.strictEqual(text(yield* runtime.readFile("sb-persist", "/root/kept.txt")), "kept")
      assert.strictEqual((yield* sh(runtime, "sb-persist", "hostname")).out, "persist\n")
      assert.match((yield* sh(runtime, "sb-persist", "cat /etc/hosts")).out, /127\.0\.1\.1\tpersist/)
    }))

  it.live("notices an init killed from outside; start brings the sandbox back", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-killed")
      yield* runtime.writeFile("sb-killed", "/workspace/f", bytes("survives"))
      const monitor = execFileSync("ps", ["-eo", "pid,ppid,args"], { encoding: "utf8" })
        .split("\n")
        .map((line) => line.trim().split(/\s+/))
        .filter((fields) => fields[2] === "/usr/bin/bwrap" && fields.join(" ").includes("/sandboxes/sb-killed "))
      // the sandbox's PID 1 is the child of bubblewrap's monitor
      const init = monitor.find((fields) => monitor.some((other) => other[0] === fields[1]))!
      process.kill(Number(init[0]), "SIGKILL")
      yield* eventually(runtime.isRunning("sb-killed"), (running) => !running)
      const failed = yield* sh(runtime, "sb-killed", "true").pipe(Effect.flip)
      assert.strictEqual((failed as { _tag: string })._tag, "SandboxNotRunning")
      yield* runtime.start({ id: "sb-killed", image: "host", hostname: "killed", limits: micro })
      assert.strictEqual(text(yield* runtime.readFile("sb-killed", "/workspace/f")), "survives")
    }))

  it.live("serializes racing lifecycle calls on one sandbox", () =>
    Effect.gen(function*() {
      const runtime = yield* h.runtime
      yield* runtime.create("sb-race", "host")
      const spec = { id: "sb-race", image: "host", hostname: "race", limits: micro }
      yield* Effect.all([
        runtime.start(spec),
        runtime.start(spec),
        runtime.stop("sb-race"),
        runtime.start(spec),
        runtime.start(spec)
      ], { concurrency: "unbounded", discard: true })
      assert.isTrue(yield* runtime.isRunning("sb-race"))
      const inits = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
        .split("\n")
        .filter((line) => line.startsWith("/usr/bin/bwrap") && line.includes("/sandboxes/sb-race "))
      // bubblewrap's monitor and the sandbox's PID 1: one sandbox
      assert.strictEqual(inits.length, 2)
      yield* Effect.all([runtime.destroy("sb-race"), runtime.stop("sb-race"), runtime.destroy("sb-race")], {
        concurrency: "unbounded",
        discard: true
      })
      assert.isFalse(yield* runtime.isRunning("sb-race"))
      assert.isFalse(fs.existsSync(path.join(h.dataDir, "state/sandboxes/sb-race")))
    }))

  it.live("applies the micro limits; a 1 GB allocation is OOM-killed and the sandbox lives on", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-limits")
      const pids = cgroupDir(h.dataDir, "pids", "sb-limits")!
      assert.strictEqual(fs.readFileSync(path.join(pids, "pids.max"), "utf8").trim(), "256")
      const cpu = cgroupDir(h.dataDir, "cpu", "sb-limits")!
      assert.strictEqual(fs.readFileSync(path.join(cpu, "cpu.cfs_quota_us"), "utf8").trim(), "25000")
      const memory = cgroupDir(h.dataDir, "memory", "sb-limits")!
      assert.strictEqual(fs.readFileSync(path.join(memory, "memory.limit_in_bytes"), "utf8").trim(), String(512 * 1024 * 1024))
      const t = performance.now()
      const hog = yield* sh(runtime, "sb-limits", "python3 -c \"x = b'x' * (1024 * 1024 * 1024); print(len(x))\"")
      console.log(`1 GB allocation killed after ${(performance.now() - t).toFixed(0)} ms`)
      assert.strictEqual(hog.exitCode, 137)
      assert.strictEqual(hog.out, "")
      const oom = fs.readFileSync(path.join(memory, "memory.oom_control"), "utf8")
      assert.match(oom, /oom_kill [1-9]/)
      assert.isTrue(yield* runtime.isRunning("sb-limits"))
      assert.strictEqual((yield* sh(runtime, "sb-limits", "echo alive")).out, "alive\n")
    }), 60_000)

  it.live("a fork bomb stops at pids.max, the host stays fine, stop ends it", () =>
    Effect.gen(function*() {
      const limits = { ...micro, pids: 64 }
      const runtime = yield* up("sb-bomb", limits)
      const pids = cgroupDir(h.dataDir, "pids", "sb-bomb")!
      yield* sh(runtime, "sb-bomb", "bomb() { bomb | bomb & }; bomb").pipe(Effect.timeout("5 seconds"), Effect.ignore)
      yield* eventually(
        Effect.sync(() => fs.readFileSync(path.join(pids, "pids.events"), "utf8")),
        (events) => /max [1-9]/.test(events)
      )
      assert.isAtMost(Number(fs.readFileSync(path.join(pids, "pids.current"), "utf8")), 64)
      // the host still forks and runs
      assert.strictEqual(execFileSync("sh", ["-c", "echo host ok"], { encoding: "utf8" }), "host ok\n")
      const t = performance.now()
      yield* runtime.stop("sb-bomb")
      assert.isBelow(performance.now() - t, 5000)
      assert.isFalse(fs.existsSync(pids))
      // and it starts again cleanly
      yield* runtime.start({ id: "sb-bomb", image: "host", hostname: "bomb", limits })
      assert.strictEqual((yield* sh(runtime, "sb-bomb", "echo calm")).out, "calm\n")
    }), 60_000)

  it.live("destroy removes the sandbox's filesystem", () =>
    Effect.gen(function*() {
      const runtime = yield* up("sb-gone")
      yield* runtime.writeFile("sb-gone", "/workspace/x", bytes("x"))
      yield* runtime.destroy("sb-gone")
      yield* runtime.destroy("sb-gone")
      assert.isFalse(fs.existsSync(path.join(h.dataDir, "state/sandboxes/sb-gone")))
      const restart = yield* runtime.start({ id: "sb-gone", image: "host", hostname: "gone", limits: micro }).pipe(Effect.flip)
      assert.strictEqual(restart._tag, "RuntimeError")
      yield* runtime.create("sb-gone", "host")
      yield* runtime.start({ id: "sb-gone", image: "host", hostname: "gone", limits: micro })
      assert.strictEqual((yield* runtime.readFile("sb-gone", "/workspace/x").pipe(Effect.flip))._tag, "SandboxFileError")
      const invalid = yield* runtime.create("../etc", "host").pipe(Effect.flip)
      assert.strictEqual(invalid._tag, "RuntimeError")
      const unknown = yield* runtime.create("sb-x", "alpine:3").pipe(Effect.flip)
      assert.strictEqual(unknown._tag, "RuntimeError")
    }))

  it.live("release stops everything and leaves nothing behind, quickly", () =>
    Effect.gen(function*() {
      const runtime = yield* h.runtime
      assert.isTrue(yield* runtime.isRunning("sb-main"))
      const millis = yield* Effect.promise(() => h.release())
      console.log(`release with running sandboxes: ${millis} ms`)
      assert.isBelow(millis, 10_000)
      assertClean(h.dataDir)
    }))

  it.live("a restarted runtime on the same data dir finds the sandboxes' files", () =>
    Effect.gen(function*() {
      const runtime = yield* Runtime
      assert.isFalse(yield* runtime.isRunning("sb-persist"))
      yield* runtime.create("sb-persist", "host")
      yield* runtime.start({ id: "sb-persist", image: "host", hostname: "persist", limits: micro })
      assert.strictEqual(text(yield* runtime.readFile("sb-persist", "/root/kept.txt")), "kept")
    }).pipe(
      Effect.provide(Layer.fresh(NamespaceRuntime.layer({ dataDir: h.dataDir, storage: "auto" }))),
      Effect.zipRight(Effect.sync(() => assertClean(h.dataDir)))
    ))
})
