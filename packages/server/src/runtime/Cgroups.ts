/**
 * cgroup limits for sandboxes, on cgroup v1 (each controller its own hierarchy; this project's
 * machines) or v2 (one unified tree). Every function takes the cgroup root as a parameter, so the
 * same code runs against a fake tree in a temp dir in unit tests.
 *
 * Names: `<base>/heyo-<instance>/<sandbox>`.
 * - v1: `<base>` is heyod's own cgroup in each controller (from /proc/self/cgroup): it may be
 *   nested (e.g. `memory:/process_api/<id>`) and the limits then nest under its own.
 * - v2: `<base>` is the parent of heyod's own cgroup, because a v2 cgroup that holds processes
 *   (heyod's) cannot hand controllers to children ("no internal processes"); heyod's sibling can.
 *
 * A missing controller is a warning, not a failure: the sandbox runs without that limit.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ResourceLimits } from "./Runtime.js"
import { RuntimeError } from "./Runtime.js"

export type V1Controller = "memory" | "cpu" | "pids" | "freezer"
export type V2Controller = "memory" | "cpu" | "pids"

export const v1Controllers: ReadonlyArray<V1Controller> = ["memory", "cpu", "pids", "freezer"]
export const v2Controllers: ReadonlyArray<V2Controller> = ["memory", "cpu", "pids"]

export interface V1Hierarchy {
  readonly controller: V1Controller
  /** Where the hierarchy is mounted, e.g. /sys/fs/cgroup/memory. */
  readonly mount: string
  /** heyod's own cgroup in it. */
  readonly base: string
}

export type Layout =
  | { readonly version: "v1"; readonly root: string; readonly hierarchies: ReadonlyArray<V1Hierarchy> }
  | {
    readonly version: "v2"
    readonly root: string
    readonly base: string
    readonly controllers: ReadonlyArray<V2Controller>
  }
  | { readonly version: "none"; readonly root: string }

export interface Detected {
  readonly layout: Layout
  readonly warnings: ReadonlyArray<string>
}

const cgroupError = (operation: string, error: unknown, sandboxId?: string) =>
  new RuntimeError({
    operation,
    message: error instanceof Error ? error.message : String(error),
    ...(sandboxId !== undefined ? { sandboxId } : {})
  })

const isDir = (dir: string) => {
  try {
    return fs.statSync(dir).isDirectory()
  } catch {
    return false
  }
}

const readText = (file: string) => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** `/proc/self/cgroup` lines: `hierarchy-id:controllers:path`. */
const parseSelf = (text: string) =>
  text.split("\n").flatMap((line) => {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim())
    return match === null ? [] : [{ controllers: match[2]!.split(",").filter((c) => c !== ""), path: match[3]! }]
  })

/** A v1 hierarchy's mount: `<root>/<controller>`, or a co-mount such as `<root>/cpu,cpuacct`. */
const v1Mount = (root: string, controller: string) => {
  const direct = path.join(root, controller)
  if (isDir(direct)) return direct
  let names: Array<string> = []
  try {
    names = fs.readdirSync(root)
  } catch {
    return undefined
  }
  const comount = names.find((name) => name.split(",").includes(controller) && isDir(path.join(root, name)))
  return comount === undefined ? undefined : path.join(root, comount)
}

/**
 * Finds the cgroup version and heyod's place in it. `root` is normally /sys/fs/cgroup and
 * `selfCgroup` the text of /proc/self/cgroup.
 */
export const detect = (options: { readonly root: string; readonly selfCgroup: string }): Effect.Effect<Detected> =>
  Effect.sync(() => {
    const { root } = options
    const self = parseSelf(options.selfCgroup)
    const warnings: Array<string> = []
    if (fs.existsSync(path.join(root, "cgroup.controllers"))) {
      const own = self.find((line) => line.controllers.length === 0)?.path ?? "/"
      const base = own === "/" ? root : path.join(root, path.dirname(own))
      const available = (readText(path.join(own === "/" ? root : path.join(root, own), "cgroup.controllers")) ?? "")
        .split(/\s+/)
      const controllers = v2Controllers.filter((c) => available.includes(c))
      for (const c of v2Controllers) {
        if (!controllers.includes(c)) warnings.push(`cgroup v2 controller ${c} is not available: sandboxes run without ${c} limits`)
      }
      return { layout: { version: "v2", root, base, controllers }, warnings }
    }
    const hierarchies: Array<V1Hierarchy> = []
    for (const controller of v1Controllers) {
      const mount = v1Mount(root, controller)
      if (mount === undefined) {
        warnings.push(`cgroup v1 controller ${controller} is not mounted under ${root}: sandboxes run without it`)
        continue
      }
      const own = self.find((line) => line.controllers.includes(controller))?.path ?? "/"
      hierarchies.push({ controller, mount, base: own === "/" ? mount : path.join(mount, own) })
    }
    if (hierarchies.length === 0) {
      return {
        layout: { version: "none", root },
        warnings: [`no cgroup controllers under ${root}: sandboxes run without memory, cpu or process limits`]
      }
    }
    return { layout: { version: "v1", root, hierarchies }, warnings }
  })

export const instanceName = (instanceId: string) => `heyo-${instanceId}`

/** heyod's instance directory in every hierarchy. */
export const instanceDirs = (layout: Layout, instanceId: string): ReadonlyArray<string> => {
  switch (layout.version) {
    case "v1":
      return layout.hierarchies.map((h) => path.join(h.base, instanceName(instanceId)))
    case "v2":
      return [path.join(layout.base, instanceName(instanceId))]
    case "none":
      return []
  }
}

/** The sandbox's directory in every hierarchy: a process joins it by writing all of their `cgroup.procs`. */
export const sandboxDirs = (layout: Layout, instanceId: string, sandboxId: string): ReadonlyArray<string> =>
  instanceDirs(layout, instanceId).map((dir) => path.join(dir, sandboxId))

/** Enables controllers with one write, falling back to one by one so a refused one does not block the rest. */
const enableControllers = (dir: string, controllers: ReadonlyArray<V2Controller>) => {
  const file = path.join(dir, "cgroup.subtree_control")
  const enabled = (readText(file) ?? "").split(/\s+/)
  const wanted = controllers.filter((c) => !enabled.includes(c) && !enabled.includes(`+${c}`))
  if (wanted.length === 0) return { enabled: controllers, failed: [] as Array<string> }
  try {
    fs.writeFileSync(file, wanted.map((c) => `+${c}`).join(" "))
    return { enabled: controllers, failed: [] as Array<string> }
  } catch {
    const failed: Array<string> = []
    for (const c of wanted) {
      try {
        fs.writeFileSync(file, `+${c}`)
      } catch (error) {
        failed.push(`${c} (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
      }
    }
    return { enabled: controllers.filter((c) => !failed.some((f) => f.startsWith(`${c} `))), failed }
  }
}

/**
 * Creates heyod's instance directories and, on v2, hands the controllers down to them. Returns
 * the layout narrowed to what really works, with warnings for what does not.
 */
export const prepareInstance = (layout: Layout, instanceId: string): Effect.Effect<Detected, RuntimeError> =>
  Effect.try({
    try: (): Detected => {
      switch (layout.version) {
        case "none":
          return { layout, warnings: [] }
        case "v1": {
          const warnings: Array<string> = []
          const usable = layout.hierarchies.filter((h) => {
            try {
              fs.mkdirSync(path.join(h.base, instanceName(instanceId)), { recursive: true })
              return true
            } catch (error) {
              warnings.push(`cannot create a ${h.controller} cgroup under ${h.base}: ${String(error)}; sandboxes run without it`)
              return false
            }
          })
          return { layout: { ...layout, hierarchies: usable }, warnings }
        }
        case "v2": {
          const warnings: Array<string> = []
          const inBase = enableControllers(layout.base, layout.controllers)
          if (inBase.failed.length > 0) {
            warnings.push(`cannot enable ${inBase.failed.join(", ")} in ${layout.base}: sandboxes run without them`)
          }
          const dir = path.join(layout.base, instanceName(instanceId))
          fs.mkdirSync(dir, { recursive: true })
          const inInstance = enableControllers(dir, inBase.enabled)
          if (inInstance.failed.length > 0) {
            warnings.push(`cannot enable ${inInstance.failed.join(", ")} in ${dir}: sandboxes run without them`)
          }
          return { layout: { ...layout, controllers: inInstance.enabled }, warnings }
        }
      }
    },
    catch: (error) => cgroupError("cgroups", error)
  })

const write = (dir: string, file: string, value: string | number) => fs.writeFileSync(path.join(dir, file), String(value))

/** Optional files (swap accounting) exist only when the kernel offers them. */
const writeIfPresent = (dir: string, file: string, value: string | number) => {
  if (fs.existsSync(path.join(dir, file))) write(dir, file, value)
}

const period = 100_000
const quota = (cpus: number) => Math.max(1000, Math.round(cpus * period))

/** Creates the sandbox's cgroups with its limits; returns the directories a process must join. */
export const create = (layout: Layout, instanceId: string, sandboxId: string, limits: ResourceLimits) =>
  Effect.try({
    try: (): ReadonlyArray<string> => {
      switch (layout.version) {
        case "none":
          return []
        case "v1":
          return layout.hierarchies.map((h) => {
            const dir = path.join(h.base, instanceName(instanceId), sandboxId)
            fs.mkdirSync(dir, { recursive: true })
            switch (h.controller) {
              case "memory":
                // memsw bounds memory+swap, so swap cannot stretch the limit; it must be set after
                // (and never below) limit_in_bytes.
                write(dir, "memory.limit_in_bytes", limits.memoryBytes)
                writeIfPresent(dir, "memory.memsw.limit_in_bytes", limits.memoryBytes)
                break
              case "cpu":
                write(dir, "cpu.cfs_period_us", period)
                write(dir, "cpu.cfs_quota_us", quota(limits.cpus))
                break
              case "pids":
                write(dir, "pids.max", limits.pids)
                break
              case "freezer":
                // no limit: the freezer is there for stop (atomic kill) and checkpoints
                break
            }
            return dir
          })
        case "v2": {
          const dir = path.join(layout.base, instanceName(instanceId), sandboxId)
          fs.mkdirSync(dir, { recursive: true })
          if (layout.controllers.includes("memory")) {
            write(dir, "memory.max", limits.memoryBytes)
            // v2 counts swap separately: none, so memory.max bounds memory+swap as on v1
            writeIfPresent(dir, "memory.swap.max", 0)
          }
          if (layout.controllers.includes("cpu")) write(dir, "cpu.max", `${quota(limits.cpus)} ${period}`)
          if (layout.controllers.includes("pids")) write(dir, "pids.max", limits.pids)
          return [dir]
        }
      }
    },
    catch: (error) => cgroupError("cgroups", error, sandboxId)
  })

/** Live pids listed in a cgroup's `cgroup.procs`. */
export const procs = (dir: string): ReadonlyArray<number> =>
  (readText(path.join(dir, "cgroup.procs")) ?? "")
    .split("\n")
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0 && fs.existsSync(`/proc/${pid}`) && !isZombie(pid))

const isZombie = (pid: number) => {
  const stat = readText(`/proc/${pid}/stat`)
  return stat !== undefined && /^\d+ \(.*\) Z /s.test(stat)
}

const killPids = (pids: ReadonlyArray<number>) => {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}

const freezerState = (dir: string) => readText(path.join(dir, "freezer.state"))?.trim()

/**
 * Kills every process in the sandbox's cgroups. v2 has `cgroup.kill`; on v1 the freezer is used
 * first, so no process can fork or exit (and free its pid for reuse by an unrelated host process)
 * between reading `cgroup.procs` and the kill.
 */
const killAllOnce = (dirs: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const killFile = dirs.map((dir) => path.join(dir, "cgroup.kill")).find((file) => fs.existsSync(file))
    if (killFile !== undefined) {
      const killed = yield* Effect.try(() => fs.writeFileSync(killFile, "1")).pipe(Effect.isSuccess)
      if (killed) return
    }
    const freezer = dirs.find((dir) => freezerState(dir) !== undefined)
    const all = () => [...new Set(dirs.flatMap(procs))]
    if (freezer === undefined || all().length === 0) {
      yield* Effect.sync(() => killPids(all()))
      return
    }
    const frozen = yield* Effect.try(() => write(freezer, "freezer.state", "FROZEN")).pipe(Effect.isSuccess)
    for (let i = 0; frozen && i < 40 && freezerState(freezer) !== "FROZEN"; i++) yield* Effect.sleep("5 millis")
    yield* Effect.sync(() => killPids(all()))
    // thaw even when freezing failed half-way, or the killed processes could never die
    yield* Effect.try(() => write(freezer, "freezer.state", "THAWED")).pipe(Effect.ignore)
  })

/** Kills what is left in the cgroups and waits (bounded) until `cgroup.procs` is empty everywhere. */
export const killAll = (dirs: ReadonlyArray<string>, timeoutMs = 3000) =>
  Effect.gen(function*() {
    const started = Date.now()
    while (dirs.some((dir) => procs(dir).length > 0)) {
      if (Date.now() - started > timeoutMs) {
        const left = [...new Set(dirs.flatMap(procs))]
        return yield* new RuntimeError({ operation: "cgroups", message: `processes ${left.join(", ")} survived SIGKILL` })
      }
      yield* killAllOnce(dirs)
      yield* Effect.sleep("5 millis")
    }
  })

const cgroupFsTypes = new Set([0x27e0eb, 0x63677270])

/**
 * rmdir is how a cgroup is removed: cgroupfs allows it despite the control files. A tree that
 * is not cgroupfs (a fake one in tests) holds plain files, removed with it.
 */
const removeDir = (dir: string) => {
  try {
    fs.rmdirSync(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "ENOENT") return
    if ((code === "ENOTEMPTY" || code === "EEXIST") && !cgroupFsTypes.has(fs.statfsSync(dir).type)) {
      fs.rmSync(dir, { recursive: true, force: true })
      return
    }
    throw error
  }
}

/**
 * Kills the processes of one group (its directories in every hierarchy) and removes it, children
 * first.
 */
export const remove = (dirs: ReadonlyArray<string>, sandboxId?: string): Effect.Effect<void, RuntimeError> =>
  Effect.gen(function*() {
    const present = dirs.filter(isDir)
    if (present.length === 0) return
    // a child is the same group in every hierarchy: remove it across all of them at once
    const children = new Set(present.flatMap((dir) => {
      try {
        return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
      } catch {
        return []
      }
    }))
    for (const child of children) yield* remove(present.map((dir) => path.join(dir, child)), sandboxId)
    yield* killAll(present)
    // rmdir can briefly see EBUSY while the last exiting task is being detached
    for (let attempt = 0;; attempt++) {
      const result = yield* Effect.try({ try: () => present.forEach(removeDir), catch: (e) => e })
        .pipe(Effect.either)
      if (result._tag === "Right") return
      if (attempt >= 40) return yield* Effect.fail(cgroupError("cgroups", result.left, sandboxId))
      yield* Effect.sleep("5 millis")
    }
  })

/**
 * Every `heyo-<instance>` directory anywhere in the hierarchies (bounded depth), wherever an
 * earlier heyod of this data dir ran from: its own cgroup may have been a different one.
 */
export const findInstanceDirs = (layout: Layout, instanceId: string): ReadonlyArray<string> => {
  const roots = layout.version === "v1" ? layout.hierarchies.map((h) => h.mount) : layout.version === "v2" ? [layout.root] : []
  const name = instanceName(instanceId)
  const found: Array<string> = []
  const walk = (dir: string, depth: number) => {
    if (depth > 8) return
    let entries: Array<fs.Dirent> = []
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue
      const full = path.join(dir, entry.name)
      if (entry.name === name) found.push(full)
      else walk(full, depth + 1)
    }
  }
  for (const root of new Set(roots)) walk(root, 0)
  return found
}
