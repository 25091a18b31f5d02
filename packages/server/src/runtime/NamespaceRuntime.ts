/**
 * The Runtime on Linux namespaces, following reference/runtime.md's recipe: an overlay on a
 * read-only image, bubblewrap for the pid/ipc/uts/mount/cgroup namespaces, a uid-shifted user
 * namespace, a loopback-only network namespace owned by heyod, cgroup v1/v2 limits; commands and
 * file operations join the running init with nsenter.
 *
 * Lifecycle of a sandbox:
 * - create: a volume `state/sandboxes/<id>` with `upper/` and `work/` (files live here).
 * - start: overlay mount, cgroups, netns, init. Running state (init pid...) is kept in memory
 *   only: after a heyod restart nothing runs, and the engine starts what should run.
 * - stop: kill the init (its pid namespace dies with it), wait for the cgroups to empty, unmount,
 *   remove cgroups and netns. A stopped sandbox holds no kernel resources, only its files.
 * - destroy: stop, then delete the volume.
 *
 * Scope: releasing the layer stops every sandbox and removes everything this instance put on
 * the host (mounts, loop device, netns, cgroups, processes).
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Cgroups from "./Cgroups.js"
import * as DataDirLock from "./DataDirLock.js"
import * as Images from "./Images.js"
import { KeyedLock } from "../internal/KeyedLock.js"
import * as Init from "./Init.js"
import * as InstanceId from "./InstanceId.js"
import * as Join from "./Join.js"
import * as Leftovers from "./Leftovers.js"
import * as Mounts from "./Mounts.js"
import * as Netns from "./Netns.js"
import * as Prerequisites from "./Prerequisites.js"
import * as Processes from "./Processes.js"
import * as Pty from "./Pty.js"
import {
  type ExecOutput,
  type ExecSpec,
  Runtime,
  RuntimeError,
  SandboxFileError,
  SandboxNotRunning,
  type Service,
  type SpawnSpec,
  type StartSpec
} from "./Runtime.js"
import * as SandboxFiles from "./SandboxFiles.js"
import * as Snapshots from "./Snapshots.js"
import * as Storage from "./Storage.js"
import * as UserNamespace from "./UserNamespace.js"

export interface Options {
  /** heyod's data directory: instance id, state image or directory. */
  readonly dataDir: string
  /** `auto`: btrfs when btrfs-progs is installed (or a btrfs store exists), else a plain directory. */
  readonly storage: "auto" | "btrfs" | "dir"
}

interface Running {
  readonly init: Init.Init
  readonly cgroups: ReadonlyArray<string>
  readonly hostname: string
  stopping: boolean
}

/** Ids become file, netns and cgroup names: no separators, no dot-names, bounded length. */
const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

/** What one command may print before heyod stops keeping it (it is all held in memory). */
const maxExecOutputBytes = 256 * 1024 * 1024

const alive = (running: Running) => running.init.process.exitCode === null && running.init.process.signalCode === null

const tryFs = <A>(operation: string, sandboxId: string, f: () => A) =>
  Effect.try({
    try: f,
    catch: (error) =>
      new RuntimeError({ operation, sandboxId, message: error instanceof Error ? error.message : String(error) })
  })

export const make = (options: Options) =>
  Effect.gen(function*() {
    const dataDir = path.resolve(options.dataDir)
    const tools = yield* Prerequisites.check(
      options.storage === "dir" ? "unused" : options.storage === "btrfs" ? "required" : "optional"
    )
    const instanceId = yield* InstanceId.readOrCreate(dataDir)
    // before any cleanup: the cleanup below would otherwise hit a live runtime's sandboxes
    yield* DataDirLock.acquire(dataDir)
    const paths = Storage.paths(dataDir, instanceId)
    const detected = yield* Cgroups.detect({
      root: "/sys/fs/cgroup",
      selfCgroup: yield* Effect.sync(() => fs.readFileSync("/proc/self/cgroup", "utf8"))
    })
    for (const warning of detected.warnings) yield* Effect.logWarning(warning)

    // A previous run of this data dir may have crashed: its leftovers go before anything new.
    const leftovers: Leftovers.Target = { tools, instanceId, paths, cgroups: detected.layout }
    yield* Leftovers.sweep(leftovers)
    // Registered first, so it runs last: whatever the steps below leave, this removes.
    yield* Effect.addFinalizer(() => Leftovers.sweep(leftovers))

    const storage = yield* Storage.open({ mode: options.storage, tools, paths })
    const images = yield* Images.prepare(storage, tools)
    const snapshots = Snapshots.make(storage, tools)
    const prepared = yield* Cgroups.prepareInstance(detected.layout, instanceId)
    for (const warning of prepared.warnings) yield* Effect.logWarning(warning)
    const layout = prepared.layout
    const scope = yield* Effect.scope

    const running = new Map<string, Running>()
    const locks = new KeyedLock()

    const validId = (id: string) =>
      idPattern.test(id)
        ? Effect.void
        : Effect.fail(
          new RuntimeError({ operation: "validate", sandboxId: id, message: `invalid sandbox id ${JSON.stringify(id)}` })
        )

    const resolveImage = (name: string) => Images.resolve(images, name)

    const create = Effect.fn("Runtime.create")(function*(id: string, image: string) {
      yield* validId(id)
      if (resolveImage(image) === undefined) {
        return yield* new RuntimeError({ operation: "create", sandboxId: id, message: `unknown image ${image}` })
      }
      const dir = storage.sandboxDir(id)
      if (fs.existsSync(dir)) return
      // Built under a name no id can have, then renamed: a crash never leaves a half-made sandbox.
      const tmp = path.join(paths.sandboxes, `.creating-${id}`)
      yield* storage.deleteVolume(tmp)
      yield* storage.createVolume(tmp)
      yield* tryFs("create", id, () => {
        const upper = path.join(tmp, "upper")
        fs.mkdirSync(upper)
        // the upper dir's owner and mode are those of the sandbox's `/`
        fs.chownSync(upper, Storage.shiftBase, Storage.shiftBase)
        fs.chmodSync(upper, 0o755)
        fs.mkdirSync(path.join(tmp, "work"), { mode: 0o700 })
        fs.renameSync(tmp, dir)
      })
    }, (effect, id) => locks.withLock(id, effect))

    /**
     * Removes every kernel resource of a sandbox, whatever state a failed start or a crash left:
     * each step runs even if an earlier one failed.
     */
    const teardown = (id: string) =>
      Effect.gen(function*() {
        const errors: Array<RuntimeError> = []
        const attempt = <A>(effect: Effect.Effect<A, RuntimeError>) =>
          effect.pipe(Effect.catchAll((error) => Effect.sync(() => void errors.push(error))))
        const entry = running.get(id)
        running.delete(id)
        if (entry !== undefined) {
          entry.stopping = true
          const { init } = entry
          if (alive(entry)) {
            // only if the pid is still our init (pids get reused once it has been reaped)
            yield* Effect.sync(() => {
              try {
                if (fs.statSync(`/proc/${init.pid}/ns/pid`).ino === init.pidNamespace) Processes.killPid(init.pid)
              } catch {
                // already gone
              }
            })
          }
          const exited = yield* Deferred.await(init.exited).pipe(Effect.timeout("3 seconds"), Effect.isSuccess)
          if (!exited) {
            // bubblewrap's monitor did not follow its child: kill it, --die-with-parent takes the rest
            Processes.killPid(init.process.pid)
            yield* Deferred.await(init.exited).pipe(Effect.timeout("1 second"), Effect.ignore)
          }
        }
        yield* attempt(Cgroups.remove(Cgroups.sandboxDirs(layout, instanceId, id), id))
        const mountPoint = storage.mountPoint(id)
        yield* attempt(Mounts.unmount(tools, mountPoint, id))
        yield* attempt(tryFs("stop", id, () => {
          try {
            fs.rmdirSync(mountPoint)
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
          }
        }))
        yield* attempt(Netns.remove(tools, Netns.name(instanceId, id), id))
        if (errors.length > 0) {
          return yield* new RuntimeError({
            operation: "stop",
            sandboxId: id,
            message: errors.map((e) => e.message).join("; ")
          })
        }
      })

    const startUnlocked = (spec: StartSpec) =>
      Effect.gen(function*() {
        const { id } = spec
        const existing = running.get(id)
        if (existing !== undefined && alive(existing)) return
        if (existing !== undefined) {
          yield* Effect.logDebug(`sandbox ${id} had stopped on its own; cleaning up before starting it again`)
          yield* teardown(id)
        }
        const canonical = resolveImage(spec.image)
        const image = images.find((i) => i.info.name === canonical)
        if (image === undefined) {
          return yield* new RuntimeError({ operation: "start", sandboxId: id, message: `unknown image ${spec.image}` })
        }
        const dir = storage.sandboxDir(id)
        if (!fs.existsSync(dir)) {
          return yield* new RuntimeError({ operation: "start", sandboxId: id, message: `sandbox ${id} has no filesystem: create it first` })
        }
        const mountPoint = storage.mountPoint(id)
        const netns = Netns.name(instanceId, id)
        const mount = tryFs("start", id, () => fs.mkdirSync(mountPoint, { recursive: true, mode: 0o700 })).pipe(
          Effect.zipRight(Mounts.mountOverlay(tools, {
            lower: image.lowerDir,
            upper: path.join(dir, "upper"),
            work: path.join(dir, "work"),
            target: mountPoint
          }, id))
        )
        const bringUp = Effect.gen(function*() {
          // independent steps, each mostly waiting on a host tool: in parallel
          const [, cgroups, , userns] = yield* Effect.all([
            mount,
            Cgroups.create(layout, instanceId, id, spec.limits),
            Netns.create(tools, netns, id),
            UserNamespace.shifted(tools, id)
          ], { concurrency: "unbounded" })
          const init = yield* Init.spawn(tools, {
            sandboxId: id,
            hostname: spec.hostname,
            cgroups,
            netns: Netns.pathOf(netns),
            userns: userns.path,
            root: mountPoint,
            binds: image.binds
          })
          const entry: Running = { init, cgroups, hostname: spec.hostname, stopping: false }
          running.set(id, entry)
          // An init that dies on its own (killed from the host, OOM) is reported; stop still cleans up.
          // Interruptible explicitly: a fiber forked here would inherit start's uninterruptibility,
          // and closing the layer's scope would then wait for a sandbox that never exits.
          yield* Deferred.await(init.exited).pipe(
            Effect.zipRight(Effect.suspend(() =>
              entry.stopping
                ? Effect.void
                : Effect.logWarning(`sandbox ${id}'s init exited unexpectedly: ${init.stderr().trim() || "no message"}`)
            )),
            Effect.interruptible,
            Effect.forkIn(scope)
          )
        })
        // the user namespace's holder lives until the init has joined it: the scope of bringUp
        yield* bringUp.pipe(Effect.scoped, Effect.tapError(() => teardown(id).pipe(Effect.ignore)))
      })

    // Uninterruptible: an interrupted start would leave half a sandbox (a mount without init).
    const start = Effect.fn("Runtime.start")(function*(spec: StartSpec) {
      yield* validId(spec.id)
      yield* startUnlocked(spec)
    }, (effect, spec) => locks.withLock(spec.id, Effect.uninterruptible(effect)))

    const stop = Effect.fn("Runtime.stop")(function*(id: string) {
      yield* validId(id)
      yield* teardown(id)
    }, (effect, id) => locks.withLock(id, Effect.uninterruptible(effect)))

    const destroy = Effect.fn("Runtime.destroy")(function*(id: string) {
      yield* validId(id)
      yield* teardown(id)
      yield* storage.deleteVolume(path.join(paths.sandboxes, `.creating-${id}`))
      yield* storage.deleteVolume(storage.sandboxDir(id))
      yield* snapshots.removeAll(id)
    }, (effect, id) => locks.withLock(id, Effect.uninterruptible(effect)))

    /** The running entry to join, checked down to the init's pid namespace. */
    const target = (id: string) =>
      Effect.suspend(() => {
        const entry = running.get(id)
        if (entry === undefined || !alive(entry)) return Effect.fail(new SandboxNotRunning({ sandboxId: id }))
        try {
          if (fs.statSync(`/proc/${entry.init.pid}/ns/pid`).ino !== entry.init.pidNamespace) throw new Error("pid reused")
        } catch {
          return Effect.fail(new SandboxNotRunning({ sandboxId: id }))
        }
        return Effect.succeed(entry)
      })

    /** Runs a command joined into the sandbox; a failure because the sandbox went away is SandboxNotRunning. */
    const runJoined = (
      id: string,
      spec: ExecSpec,
      collect: Pick<Processes.CollectOptions, "interleaved" | "maxBytes" | "killOnOverflow">
    ) =>
      Effect.gen(function*() {
        const entry = yield* target(id)
        const inner = yield* Join.command(spec, entry.hostname, id)
        const command = Join.inCgroups(tools, entry.cgroups, Join.nsenter(tools, entry.init.pid, inner))
        const result = yield* Processes.collect(command.file, command.args, {
          ...collect,
          stdin: spec.stdin,
          operation: "exec",
          sandboxId: id
        })
        if (result.exitCode !== 0 && (running.get(id) !== entry || !alive(entry))) {
          return yield* new SandboxNotRunning({ sandboxId: id })
        }
        return result
      })

    const exec = Effect.fn("Runtime.exec")(function*(id: string, spec: ExecSpec) {
      const result = yield* runJoined(id, spec, {
        interleaved: true,
        maxBytes: maxExecOutputBytes,
        killOnOverflow: false
      })
      if (!result.overflowed) {
        return { stdout: result.stdout, stderr: result.stderr, output: result.output, exitCode: result.exitCode } satisfies ExecOutput
      }
      const note = Buffer.from(`\nheyo: output beyond ${maxExecOutputBytes / 1024 / 1024} MiB was dropped\n`)
      return {
        stdout: result.stdout,
        stderr: Buffer.concat([result.stderr, note]),
        output: Buffer.concat([result.output, note]),
        exitCode: result.exitCode
      } satisfies ExecOutput
    })

    const spawn = Effect.fn("Runtime.spawn")(function*(id: string, spec: SpawnSpec) {
      const entry = yield* target(id)
      if (spec.tty !== undefined) {
        const inner = yield* Join.command(
          { ...spec, argv: Pty.scriptArgv(spec.argv), env: { TERM: "xterm-256color", ...spec.env } },
          entry.hostname,
          id
        )
        const command = Join.inCgroups(tools, entry.cgroups, Join.nsenter(tools, entry.init.pid, inner))
        return yield* Pty.spawnPty(command.file, command.args, spec.tty, { operation: "spawn", sandboxId: id })
      }
      const inner = yield* Join.command(spec, entry.hostname, id)
      const command = Join.inCgroups(tools, entry.cgroups, Join.nsenter(tools, entry.init.pid, inner))
      return yield* Processes.spawnStreaming(command.file, command.args, { stdin: spec.stdin, operation: "spawn", sandboxId: id })
    })

    const spawnBackground = Effect.fn("Runtime.spawnBackground")(function*(id: string, spec: ExecSpec, logFile: string) {
      const entry = yield* target(id)
      const inner = yield* Join.command(spec, entry.hostname, id)
      const command = Join.inCgroups(tools, entry.cgroups, Join.nsenter(tools, entry.init.pid, inner))
      yield* Effect.acquireUseRelease(
        tryFs("spawn", id, () => fs.openSync(logFile, "a", 0o600)),
        (fd) => Processes.spawnDetached(command.file, command.args, fd, { operation: "spawn", sandboxId: id }),
        (fd) => Effect.sync(() => fs.closeSync(fd))
      )
    })

    const readFile = Effect.fn("Runtime.readFile")(function*(id: string, file: string) {
      const invalid = SandboxFiles.invalidPath(file)
      if (invalid !== undefined) return yield* invalid
      const result = yield* runJoined(id, { argv: SandboxFiles.readArgv(file), cwd: "/", env: SandboxFiles.env }, {
        interleaved: false,
        maxBytes: SandboxFiles.maxReadBytes,
        killOnOverflow: true
      })
      if (result.overflowed) {
        return yield* new SandboxFileError({
          reason: "Other",
          path: file,
          message: `${file}: larger than ${SandboxFiles.maxReadBytes / 1024 / 1024} MiB`
        })
      }
      if (result.exitCode !== 0) return yield* SandboxFiles.errorFrom(file, result.stderr, result.exitCode)
      return result.stdout
    })

    const writeFile = Effect.fn("Runtime.writeFile")(function*(id: string, file: string, data: Uint8Array) {
      const invalid = SandboxFiles.invalidPath(file)
      if (invalid !== undefined) return yield* invalid
      const result = yield* runJoined(id, {
        argv: SandboxFiles.writeArgv(file),
        cwd: "/",
        env: SandboxFiles.env,
        stdin: data
      }, { interleaved: false, maxBytes: 1024 * 1024, killOnOverflow: false })
      if (result.exitCode !== 0) return yield* SandboxFiles.errorFrom(file, result.stderr, result.exitCode)
    })

    // Registered last, so it runs first: sandboxes stop before their mounts and cgroups go.
    yield* Effect.addFinalizer(() =>
      Effect.forEach([...running.keys()], (id) =>
        locks.withLock(id, teardown(id)).pipe(
          Effect.catchAll((error) => Effect.logWarning(`stopping ${id} at shutdown: ${error.message}`))
        ), { concurrency: "unbounded", discard: true }).pipe(
          // finalizers are uninterruptible: without this the timeout could not cut a stuck stop short
          Effect.interruptible,
          Effect.timeout("6 seconds"),
          Effect.catchAll(() => Effect.logWarning("sandboxes did not all stop within 6 s; cleaning up by force"))
        ))

    const service: Service = {
      info: { instanceId, storage: storage.kind, cgroups: layout.version },
      images: images.map((image) => image.info),
      resolveImage,
      create,
      start,
      stop,
      destroy,
      isRunning: (id) =>
        Effect.sync(() => {
          const entry = running.get(id)
          return entry !== undefined && alive(entry)
        }),
      exec,
      spawn,
      spawnBackground,
      readFile,
      writeFile,
      checkpoints: {
        take: (id, name) =>
          locks.withLock(id, Effect.uninterruptible(Effect.suspend(() => {
            const entry = running.get(id)
            return snapshots.take(id, name, entry !== undefined && alive(entry) ? entry.cgroups : [])
          }))),
        restore: (id, name) =>
          locks.withLock(id, Effect.uninterruptible(Effect.suspend(() => {
            const entry = running.get(id)
            return entry !== undefined && alive(entry)
              ? Effect.fail(new RuntimeError({ operation: "restore", sandboxId: id, message: `sandbox ${id} must be stopped to restore a checkpoint` }))
              : snapshots.restore(id, name)
          }))),
        remove: (id, name) => locks.withLock(id, snapshots.remove(id, name)),
        list: snapshots.list
      }
    }
    return service
  })

/** The namespace runtime as a scoped layer: built at heyod start, released (all cleaned up) at shutdown. */
export const layer = (options: Options): Layer.Layer<Runtime, RuntimeError> => Layer.scoped(Runtime, make(options))
