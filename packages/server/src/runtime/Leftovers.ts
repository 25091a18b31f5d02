/**
 * Cleanup of everything one heyod instance can leave on the host: at start-up (a previous run
 * crashed) and as the last step of shutdown. Only this instance's resources, found by exact
 * names: processes and cgroups `heyo-<instance>`, mounts under the data dir and the run
 * directory, loop devices backed by its image, netns `heyo-<instance>-*`.
 * Each step runs even when an earlier one failed; failures are logged, not raised, so a stuck
 * leftover never keeps heyod from starting or stopping.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Cgroups from "./Cgroups.js"
import * as Mounts from "./Mounts.js"
import * as Netns from "./Netns.js"
import type { Tools } from "./Prerequisites.js"
import type { RuntimeError } from "./Runtime.js"
import * as Storage from "./Storage.js"

export interface Target {
  readonly tools: Tools
  readonly instanceId: string
  readonly paths: Storage.Paths
  readonly cgroups: Cgroups.Layout
}

/**
 * A sandbox's init names this instance's run directory in its arguments (bubblewrap's
 * `--bind /run/heyo-<instance>/sandboxes/<id> /`); nothing else does. (Not the data dir: an
 * editor open on a sandbox's file there is the user's, and so is heyod's own `--data-dir`.)
 */
const processesOf = (paths: Storage.Paths) => {
  const marks = [`${paths.run}/`]
  const found: Array<number> = []
  for (const entry of fs.readdirSync("/proc")) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      if (args.some((arg) => marks.some((mark) => arg.startsWith(mark)))) found.push(pid)
    } catch {
      // exited while we looked
    }
  }
  return found
}

/** Removes the run directory bottom-up with rmdir only: never recursive deletion where mounts were. */
const removeRunDir = (dir: string): void => {
  let entries: Array<fs.Dirent> = []
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const entry of entries) if (entry.isDirectory()) removeRunDir(path.join(dir, entry.name))
  try {
    fs.rmdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
  }
}

const step = (name: string, effect: Effect.Effect<unknown, RuntimeError | Error>) =>
  effect.pipe(
    Effect.catchAll((error) => Effect.logWarning(`cleanup (${name}): ${error.message}`)),
    Effect.catchAllDefect((defect) => Effect.logWarning(`cleanup (${name}): ${String(defect)}`))
  )

export const sweep = (target: Target) =>
  Effect.gen(function*() {
    const { paths, tools } = target
    yield* step("cgroups", Cgroups.remove(Cgroups.findInstanceDirs(target.cgroups, target.instanceId)))
    yield* step(
      "processes",
      Effect.gen(function*() {
        for (let i = 0; i < 100; i++) {
          const pids = processesOf(paths)
          if (pids.length === 0) return
          for (const pid of pids) {
            try {
              process.kill(pid, "SIGKILL")
            } catch {
              // gone
            }
          }
          yield* Effect.sleep("10 millis")
        }
      })
    )
    // sandbox roots first: they hold the state filesystem busy
    yield* step("mounts", Mounts.unmountAllUnder(tools, [paths.run], { self: true }))
    yield* step("mounts", Storage.unmountImage(tools, paths))
    // under the data dir, not the data dir itself: that may be a disk the user mounted for heyod
    yield* step("mounts", Mounts.unmountAllUnder(tools, [paths.dataDir], { self: false }))
    yield* step(
      "netns",
      Effect.gen(function*() {
        for (const netns of yield* Netns.list(target.instanceId)) yield* Netns.remove(tools, netns)
      })
    )
    yield* step("run dir", Effect.try(() => removeRunDir(paths.run)))
  })
