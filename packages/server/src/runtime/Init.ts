/**
 * The sandbox's long-lived init: bubblewrap in the daemon-owned network namespace and the shifted
 * user namespace (joined in that order, so the sandbox's root has no CAP_NET_ADMIN over its
 * network), with its own pid, ipc, uts, mount and cgroup namespaces, the overlay as `/`.
 * Every later command joins this process's namespaces.
 *
 * bubblewrap 0.8 is PID 1 (a reaper) and runs `sleep infinity` under it: nothing forks, so a
 * sandbox whose pids limit is exhausted (a fork bomb) still has a healthy init. Killing PID 1 kills
 * everything in the pid namespace: that is how a sandbox stops.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn as spawnChild } from "node:child_process"
import * as fs from "node:fs"
import type { Readable, Writable } from "node:stream"
import { hostEnv } from "./HostCommand.js"
import * as Join from "./Join.js"
import type { Tools } from "./Prerequisites.js"
import { RuntimeError } from "./Runtime.js"

export interface InitSpec {
  readonly sandboxId: string
  readonly hostname: string
  /** The sandbox's cgroup directories (joined before nsenter). */
  readonly cgroups: ReadonlyArray<string>
  readonly netns: string
  readonly userns: string
  /** The overlay mount point: becomes `/`. */
  readonly root: string
  /** Host read-only mounts bound at `target`. */
  readonly binds: ReadonlyArray<{ readonly source: string; readonly target: string }>
}

export interface Init {
  /** The init (PID 1 of the sandbox) as the host sees it: the pid to join. */
  readonly pid: number
  /** Inode of its pid namespace: checked before joining, so a reused pid is never joined. */
  readonly pidNamespace: number
  /** bubblewrap's monitor process, heyod's child. */
  readonly process: ChildProcess
  /** Completes when the monitor exits, i.e. the sandbox is gone. */
  readonly exited: Deferred.Deferred<void>
  /** What bubblewrap printed on stderr (why an init died). */
  readonly stderr: () => string
}

const readyTimeoutMs = 15_000

const hostsFile = (hostname: string) =>
  `127.0.0.1\tlocalhost\n127.0.1.1\t${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`

/** Checks the hostname bubblewrap will set (uts nodename: at most 64 bytes). */
const validHostname = (hostname: string) =>
  hostname.length > 0 && Buffer.byteLength(hostname) <= 64 && !/[\s\0/]/.test(hostname)

export const bwrapArgs = (spec: InitSpec) => [
  "--unshare-pid",
  "--unshare-ipc",
  "--unshare-uts",
  "--unshare-cgroup-try",
  "--die-with-parent",
  "--bind",
  spec.root,
  "/",
  ...spec.binds.flatMap((bind) => ["--ro-bind", bind.source, bind.target]),
  "--proc",
  "/proc",
  "--dev",
  "/dev",
  // per-start files, like a container runtime's: the hostname can change between starts
  "--perms",
  "0644",
  "--bind-data",
  "4",
  "/etc/hosts",
  "--perms",
  "0644",
  "--bind-data",
  "5",
  "/etc/hostname",
  "--hostname",
  spec.hostname,
  "--chdir",
  "/",
  "--info-fd",
  "3",
  "--",
  "/bin/sh",
  "-c",
  "echo ready; exec sleep infinity"
]

/** Starts the init and returns once it runs inside its root. */
export const spawn = (tools: Tools, spec: InitSpec) =>
  Effect.gen(function*() {
    const fail = (message: string) => new RuntimeError({ operation: "start", sandboxId: spec.sandboxId, message })
    if (!validHostname(spec.hostname)) {
      return yield* fail(`invalid hostname ${JSON.stringify(spec.hostname)}: 1 to 64 bytes, no spaces or '/'`)
    }
    const exited = yield* Deferred.make<void>()
    const command = Join.inCgroups(tools, spec.cgroups, [
      tools.nsenter,
      `--net=${spec.netns}`,
      `--user=${spec.userns}`,
      "--",
      tools.bwrap,
      ...bwrapArgs(spec)
    ])
    const child = yield* Effect.try({
      try: () =>
        spawnChild(command.file, command.args, {
          // its own session: a Ctrl-C at heyod's terminal must not reach the sandboxes
          detached: true,
          // not heyod's cwd: it would show in the sandbox as PID 1's PWD, and pin that directory
          cwd: "/",
          env: hostEnv,
          stdio: ["ignore", "pipe", "pipe", "pipe", "pipe", "pipe"]
        }),
      catch: (error) => fail(String(error))
    })
    let stderr = ""
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-4096)
    })
    child.once("exit", () => Deferred.unsafeDone(exited, Effect.void))
    for (const [fd, content] of [[4, hostsFile(spec.hostname)], [5, `${spec.hostname}\n`]] as const) {
      const pipe = (child.stdio as ReadonlyArray<unknown>)[fd] as Writable
      pipe.on("error", () => {})
      pipe.end(content)
    }
    const started = yield* Effect.async<{ readonly pid: number }, RuntimeError>((resume) => {
      let info = ""
      let ready = false
      let settled = false
      const settle = (result: Effect.Effect<{ readonly pid: number }, RuntimeError>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(result)
      }
      const check = () => {
        if (!ready) return
        try {
          const pid = (JSON.parse(info) as { "child-pid"?: unknown })["child-pid"]
          if (typeof pid === "number") settle(Effect.succeed({ pid }))
        } catch {
          // info not complete yet: bubblewrap closes the fd once written
        }
      }
      const infoPipe = child.stdio[3] as Readable
      infoPipe.setEncoding("utf8").on("data", (d: string) => {
        info += d
        check()
      })
      let out = ""
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        if (ready) return
        out += d
        if (out.includes("ready\n")) {
          ready = true
          check()
        }
      })
      child.once("exit", (code, signal) =>
        // let the last stderr bytes arrive before reporting them
        setTimeout(() =>
          settle(Effect.fail(fail(`the sandbox init exited (${signal ?? `code ${code}`}) before it was ready: ${stderr.trim()}`))), 20))
      child.once("error", (error) => settle(Effect.fail(fail(error.message))))
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        settle(Effect.fail(fail(`the sandbox init was not ready within ${readyTimeoutMs / 1000} s: ${stderr.trim()}`)))
      }, readyTimeoutMs)
    })
    const pidNamespace = yield* Effect.try({
      try: () => fs.statSync(`/proc/${started.pid}/ns/pid`).ino,
      catch: () => fail(`the sandbox init (pid ${started.pid}) vanished right after starting: ${stderr.trim()}`)
    })
    // Keep reading (and dropping) the init's pipes so it never blocks or dies writing to them,
    // without holding heyod's event loop open.
    for (const stream of [child.stdout, child.stderr, child.stdio[3]] as ReadonlyArray<Readable | null>) {
      ;(stream as (Readable & { unref?: () => void }) | null)?.unref?.()
      stream?.resume()
    }
    child.unref()
    return { pid: started.pid, pidNamespace, process: child, exited, stderr: () => stderr } satisfies Init
  })
