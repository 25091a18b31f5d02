/**
 * Checkpoints of a sandbox's filesystem, following reference/runtime.md §4.
 *
 * A checkpoint is a consistent copy of the sandbox's volume (`upper/`, where all its writes
 * land) kept at `state/checkpoints/<sandbox>/<checkpoint>`:
 * - btrfs: freeze the sandbox's cgroup (no process can write half a file meanwhile), `sync -f`,
 *   `btrfs subvolume snapshot -r`, thaw. Tens of milliseconds whatever the data size.
 * - plain directory (no btrfs-progs): freeze, `cp -a --reflink=auto` of `upper/`, thaw, then sync
 *   the copy. The sandbox stays frozen for the length of the copy: slower, same result.
 * Restore (the sandbox stopped, by the caller) builds the new volume beside the old one
 * (`.restoring-<id>`: a writable snapshot, or a copy), then swaps them, so a crash at any point
 * leaves either the old filesystem or the restored one, never half of each.
 *
 * Only heyod touches these paths: a sandbox never sees its checkpoints.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as HostCommand from "./HostCommand.js"
import { type Tools, which } from "./Prerequisites.js"
import { RuntimeError } from "./Runtime.js"
import type { Storage } from "./Storage.js"

/** Checkpoint names become directory names. */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

export interface Timing {
  /** How long the sandbox's processes were frozen (0 when it was not running). */
  readonly frozenMillis: number
  readonly totalMillis: number
}

export interface Service {
  /**
   * Takes checkpoint `name` of sandbox `id`. `cgroups` are the sandbox's cgroup directories when
   * it runs (frozen during the copy), empty when it is stopped. The caller serialises this with
   * the sandbox's start, stop and destroy.
   */
  readonly take: (id: string, name: string, cgroups: ReadonlyArray<string>) => Effect.Effect<Timing, RuntimeError>
  /** Replaces the stopped sandbox's filesystem with checkpoint `name`'s copy. */
  readonly restore: (id: string, name: string) => Effect.Effect<void, RuntimeError>
  /** Deletes one checkpoint; absent is fine. */
  readonly remove: (id: string, name: string) => Effect.Effect<void, RuntimeError>
  /** Deletes every checkpoint of the sandbox (it is being destroyed). */
  readonly removeAll: (id: string) => Effect.Effect<void, RuntimeError>
  /** The checkpoint names kept on disk for a sandbox (to sweep ones no record knows). */
  readonly list: (id: string) => Effect.Effect<ReadonlyArray<string>>
}

const tryFs = <A>(operation: string, sandboxId: string, f: () => A) =>
  Effect.try({
    try: f,
    catch: (error) =>
      new RuntimeError({ operation, sandboxId, message: error instanceof Error ? error.message : String(error) })
  })

const readText = (file: string) => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/**
 * The freezer of a sandbox's cgroups: v1 `freezer.state`, v2 `cgroup.freeze`. undefined when the
 * host offers neither (cgroups "none"): the copy is then taken live, which the caller is told.
 */
const freezerOf = (cgroups: ReadonlyArray<string>) => {
  for (const dir of cgroups) {
    if (fs.existsSync(path.join(dir, "freezer.state"))) {
      const file = path.join(dir, "freezer.state")
      return {
        freeze: () => fs.writeFileSync(file, "FROZEN"),
        thaw: () => fs.writeFileSync(file, "THAWED"),
        frozen: () => readText(file)?.trim() === "FROZEN"
      }
    }
    if (fs.existsSync(path.join(dir, "cgroup.freeze"))) {
      return {
        freeze: () => fs.writeFileSync(path.join(dir, "cgroup.freeze"), "1"),
        thaw: () => fs.writeFileSync(path.join(dir, "cgroup.freeze"), "0"),
        frozen: () => /^frozen 1$/m.test(readText(path.join(dir, "cgroup.events")) ?? "")
      }
    }
  }
  return undefined
}

/**
 * Runs `effect` with the sandbox frozen, thawing whatever happens (a sandbox left frozen would
 * hang every later command). A freeze waits for tasks busy in the kernel (disk writes under load
 * can take seconds); one that does not settle within 10 s fails rather than copy a filesystem
 * still being written.
 */
const freezeTimeoutMs = 10_000

const frozen = <A>(id: string, cgroups: ReadonlyArray<string>, effect: Effect.Effect<A, RuntimeError>) =>
  Effect.suspend(() => {
    const freezer = freezerOf(cgroups)
    if (freezer === undefined) {
      return cgroups.length === 0
        ? Effect.map(effect, (a) => [a, 0] as const)
        : Effect.logWarning(`sandbox ${id} has no cgroup freezer: checkpoint taken without freezing`).pipe(
          Effect.zipRight(effect),
          Effect.map((a) => [a, 0] as const)
        )
    }
    const started = Date.now()
    return Effect.acquireUseRelease(
      tryFs("freeze", id, () => freezer.freeze()),
      () =>
        Effect.gen(function*() {
          for (let attempt = 1; !freezer.frozen(); attempt++) {
            if (Date.now() - started > freezeTimeoutMs) {
              return yield* new RuntimeError({ operation: "freeze", sandboxId: id, message: "the sandbox did not freeze within 10 s" })
            }
            yield* Effect.sleep("5 millis")
            // v1 can stay FREEZING while tasks fork as it walks them: writing FROZEN again retries
            // the stragglers, and now and then a short thaw lets a fork storm settle (as runc does)
            if (attempt % 50 === 0) {
              yield* tryFs("freeze", id, () => freezer.thaw())
              yield* Effect.sleep("10 millis")
            }
            yield* tryFs("freeze", id, () => freezer.freeze())
          }
          return yield* effect
        }),
      () => Effect.sync(() => freezer.thaw()).pipe(Effect.ignore)
    ).pipe(Effect.map((a) => [a, Date.now() - started] as const))
  })

export const make = (storage: Storage, tools: Tools): Service => {
  const root = path.join(storage.paths.state, "checkpoints")
  const dirOf = (id: string) => path.join(root, id)
  const pathOf = (id: string, name: string) => path.join(dirOf(id), name)
  const syncBin = which("sync") ?? "sync"
  const cpBin = which("cp") ?? "cp"
  const btrfs = storage.kind === "btrfs" ? tools.btrfs : undefined

  const validName = (id: string, name: string) =>
    namePattern.test(name)
      ? Effect.void
      : Effect.fail(new RuntimeError({ operation: "checkpoint", sandboxId: id, message: `invalid checkpoint name ${JSON.stringify(name)}` }))

  const syncFs = (id: string, dir: string) =>
    HostCommand.run(syncBin, ["-f", dir], { operation: "sync", sandboxId: id, timeoutMs: 600_000 })

  const copy = (id: string, from: string, to: string) =>
    HostCommand.run(cpBin, ["-a", "--reflink=auto", "--", from, to], {
      operation: "copy filesystem",
      sandboxId: id,
      timeoutMs: 3_600_000
    })

  const take = Effect.fn("Snapshots.take")(function*(id: string, name: string, cgroups: ReadonlyArray<string>) {
    yield* validName(id, name)
    const started = Date.now()
    const source = storage.sandboxDir(id)
    if (!fs.existsSync(source)) {
      return yield* new RuntimeError({ operation: "checkpoint", sandboxId: id, message: `sandbox ${id} has no filesystem` })
    }
    const target = pathOf(id, name)
    if (fs.existsSync(target)) {
      return yield* new RuntimeError({ operation: "checkpoint", sandboxId: id, message: `checkpoint ${name} already exists` })
    }
    yield* tryFs("checkpoint", id, () => fs.mkdirSync(dirOf(id), { recursive: true, mode: 0o700 }))
    if (btrfs !== undefined) {
      const [, frozenMillis] = yield* frozen(
        id,
        cgroups,
        syncFs(id, path.join(source, "upper")).pipe(
          Effect.zipRight(HostCommand.run(btrfs.cli, ["subvolume", "snapshot", "-r", source, target], {
            operation: "snapshot",
            sandboxId: id
          }))
        )
      )
      return { frozenMillis, totalMillis: Date.now() - started }
    }
    // Built under a temporary name: a crash mid-copy never leaves a checkpoint that looks whole.
    const tmp = pathOf(id, `.taking-${name}`)
    yield* storage.deleteVolume(tmp)
    yield* tryFs("checkpoint", id, () => fs.mkdirSync(tmp, { mode: 0o700 }))
    const [, frozenMillis] = yield* frozen(id, cgroups, copy(id, path.join(source, "upper"), path.join(tmp, "upper")))
    yield* syncFs(id, tmp)
    yield* tryFs("checkpoint", id, () => fs.renameSync(tmp, target))
    return { frozenMillis, totalMillis: Date.now() - started }
  })

  const restore = Effect.fn("Snapshots.restore")(function*(id: string, name: string) {
    yield* validName(id, name)
    const checkpoint = pathOf(id, name)
    if (!fs.existsSync(checkpoint)) {
      return yield* new RuntimeError({ operation: "restore", sandboxId: id, message: `checkpoint ${name} of ${id} is not on disk` })
    }
    const next = path.join(storage.paths.sandboxes, `.restoring-${id}`)
    const current = storage.sandboxDir(id)
    const old = path.join(storage.paths.sandboxes, `.replaced-${id}`)
    // a crash between the two renames below left the old filesystem aside: put it back first
    if (!fs.existsSync(current) && fs.existsSync(old)) yield* tryFs("restore", id, () => fs.renameSync(old, current))
    yield* storage.deleteVolume(next)
    if (btrfs !== undefined) {
      yield* HostCommand.run(btrfs.cli, ["subvolume", "snapshot", checkpoint, next], { operation: "restore", sandboxId: id })
    } else {
      yield* storage.createVolume(next)
      yield* copy(id, path.join(checkpoint, "upper"), path.join(next, "upper"))
    }
    // overlayfs needs an empty work dir; the snapshot's holds the old mount's leftovers
    yield* tryFs("restore", id, () => {
      const work = path.join(next, "work")
      fs.rmSync(work, { recursive: true, force: true })
      fs.mkdirSync(work, { mode: 0o700 })
    })
    yield* syncFs(id, next)
    yield* storage.deleteVolume(old)
    // rename, rename, delete: at every instant one complete filesystem is in place or beside it
    yield* tryFs("restore", id, () => {
      if (fs.existsSync(current)) fs.renameSync(current, old)
      fs.renameSync(next, current)
    })
    yield* storage.deleteVolume(old)
  })

  const remove = Effect.fn("Snapshots.remove")(function*(id: string, name: string) {
    yield* validName(id, name)
    yield* storage.deleteVolume(pathOf(id, name))
  })

  const removeAll = Effect.fn("Snapshots.removeAll")(function*(id: string) {
    const dir = dirOf(id)
    if (!fs.existsSync(dir)) return
    for (const name of fs.readdirSync(dir)) yield* storage.deleteVolume(path.join(dir, name))
    yield* tryFs("delete checkpoints", id, () => fs.rmSync(dir, { recursive: true, force: true }))
    for (const leftover of [`.restoring-${id}`, `.replaced-${id}`]) {
      yield* storage.deleteVolume(path.join(storage.paths.sandboxes, leftover))
    }
  })

  const list = (id: string) =>
    Effect.sync(() => {
      try {
        return fs.readdirSync(dirOf(id)).filter((name) => namePattern.test(name))
      } catch {
        return []
      }
    })

  return { take, restore, remove, removeAll, list }
}
