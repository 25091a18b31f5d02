/**
 * Where sandbox filesystems live.
 *
 * `<dataDir>/state` holds `images/<image>` and `sandboxes/<id>` (`upper/` + `work/`, which overlayfs
 * needs on one filesystem, hence one btrfs subvolume per sandbox: a later checkpoint is a snapshot
 * of it). With btrfs-progs it is a btrfs image, `<dataDir>/state.img`, loop-mounted (sparse, kept
 * across restarts: small-file writes on the host's ext4 are slow and noisy); otherwise a plain
 * directory with the same layout.
 *
 * Mount points are not under the data dir but in `/run/heyo-<instance>`: bubblewrap resolves them
 * as the sandbox's shifted root, which cannot search a private ancestor of the data dir (a
 * `mkdtemp` dir, `/root`). That run directory is searchable only by the shifted root's group.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as HostCommand from "./HostCommand.js"
import * as Mounts from "./Mounts.js"
import type { Tools } from "./Prerequisites.js"
import { RuntimeError } from "./Runtime.js"

/** Host uid/gid of the sandbox's root: the start of the shifted range. */
export const shiftBase = 100000
export const shiftSize = 65536

export type Kind = "btrfs" | "dir"

export interface Paths {
  readonly dataDir: string
  readonly image: string
  readonly state: string
  readonly images: string
  readonly sandboxes: string
  /** `/run/heyo-<instance>`: mount points bubblewrap must reach. */
  readonly run: string
  readonly runImages: string
  readonly runSandboxes: string
}

export const paths = (dataDir: string, instanceId: string): Paths => {
  const state = path.join(dataDir, "state")
  const run = `/run/heyo-${instanceId}`
  return {
    dataDir,
    image: path.join(dataDir, "state.img"),
    state,
    images: path.join(state, "images"),
    sandboxes: path.join(state, "sandboxes"),
    run,
    runImages: path.join(run, "images"),
    runSandboxes: path.join(run, "sandboxes")
  }
}

export interface Storage {
  readonly kind: Kind
  readonly paths: Paths
  /** A new empty volume (btrfs subvolume or directory) at `dir`. */
  readonly createVolume: (dir: string) => Effect.Effect<void, RuntimeError>
  /** Deletes a volume made by createVolume, or a plain directory; absent is fine. */
  readonly deleteVolume: (dir: string) => Effect.Effect<void, RuntimeError>
  readonly sandboxDir: (id: string) => string
  /** The sandbox's root mount point under the run directory. */
  readonly mountPoint: (id: string) => string
}

const imageSize = 20 * 1024 * 1024 * 1024

const tryFs = <A>(operation: string, f: () => A) =>
  Effect.try({
    try: f,
    catch: (error) => new RuntimeError({ operation, message: error instanceof Error ? error.message : String(error) })
  })

const nonEmptyDir = (dir: string) => {
  try {
    return fs.readdirSync(dir).length > 0
  } catch {
    return false
  }
}

/** Which store to use: an existing one wins over the preference, so no data is hidden. */
const choose = (mode: "auto" | "btrfs" | "dir", p: Paths, tools: Tools) =>
  Effect.gen(function*() {
    const hasImage = fs.existsSync(p.image)
    const hasDirStore = !hasImage && nonEmptyDir(p.state)
    const fail = (message: string) => Effect.fail(new RuntimeError({ operation: "storage", message }))
    switch (mode) {
      case "dir":
        if (hasImage) return yield* fail(`${p.image} holds this data dir's sandboxes: start with storage "btrfs" or "auto"`)
        return "dir" as const
      case "btrfs":
        if (hasDirStore) return yield* fail(`${p.state} holds a plain-directory store: start with storage "dir" or "auto"`)
        if (tools.btrfs === undefined) return yield* fail("btrfs storage needs btrfs-progs: `apt-get install -y btrfs-progs`")
        return "btrfs" as const
      case "auto":
        if (hasImage) {
          if (tools.btrfs === undefined) {
            return yield* fail(`${p.image} is a btrfs store but btrfs-progs is missing: \`apt-get install -y btrfs-progs\``)
          }
          return "btrfs" as const
        }
        if (hasDirStore || tools.btrfs === undefined) return "dir" as const
        return "btrfs" as const
    }
  })

/** Formats the loop image once: written under a temporary name so a crash never leaves a half-made one. */
const ensureImage = (tools: Tools, p: Paths) =>
  Effect.gen(function*() {
    if (fs.existsSync(p.image)) return
    const tmp = `${p.image}.tmp`
    yield* tryFs("storage", () => {
      fs.rmSync(tmp, { force: true })
      const fd = fs.openSync(tmp, "w", 0o600)
      try {
        fs.ftruncateSync(fd, imageSize)
      } finally {
        fs.closeSync(fd)
      }
    })
    yield* HostCommand.run(tools.btrfs!.mkfs, ["-q", tmp], { operation: "mkfs.btrfs" })
    yield* tryFs("storage", () => fs.renameSync(tmp, p.image))
  })

/** The group-searchable run directory (root:<shifted root gid>, 0710). */
const makeRunDir = (dir: string) =>
  tryFs("storage", () => {
    fs.mkdirSync(dir, { recursive: true })
    fs.chownSync(dir, 0, shiftBase)
    fs.chmodSync(dir, 0o710)
  })

/**
 * Opens the store: formats and mounts the image (btrfs) or creates the directory, plus the run
 * directory. Closing the scope unmounts the image, which frees its loop device.
 */
export const open = Effect.fn("Storage.open")(function*(
  options: { readonly mode: "auto" | "btrfs" | "dir"; readonly tools: Tools; readonly paths: Paths }
) {
  const { paths: p, tools } = options
  const kind = yield* choose(options.mode, p, tools)
  if (kind === "btrfs") {
    yield* ensureImage(tools, p)
    yield* Effect.acquireRelease(
      Effect.gen(function*() {
        yield* tryFs("storage", () => fs.mkdirSync(p.state, { recursive: true, mode: 0o700 }))
        if (!(yield* Mounts.isMountPoint(p.state))) {
          yield* HostCommand.run(tools.mount, ["-o", "loop", p.image, p.state], { operation: "mount state image" })
        }
      }),
      () => unmountImage(tools, p).pipe(Effect.catchAll((e) => Effect.logError(e.message)))
    )
  }
  yield* tryFs("storage", () => {
    for (const dir of [p.state, p.images, p.sandboxes]) fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    fs.chmodSync(p.state, 0o700)
  })
  for (const dir of [p.run, p.runImages, p.runSandboxes]) yield* makeRunDir(dir)

  const isSubvolume = (dir: string) => kind === "btrfs" && fs.statSync(dir).ino === 256

  const createVolume = (dir: string) =>
    kind === "btrfs"
      ? HostCommand.run(tools.btrfs!.cli, ["subvolume", "create", dir], { operation: "create volume" }).pipe(Effect.asVoid)
      : tryFs("create volume", () => fs.mkdirSync(dir))

  const deleteVolume = (dir: string) =>
    Effect.gen(function*() {
      if (!fs.existsSync(dir)) return
      // rm -rf must never descend into a mount: that would delete whatever is mounted there.
      const mounted = yield* Mounts.under([dir], { self: true })
      if (mounted.length > 0) {
        return yield* new RuntimeError({ operation: "delete volume", message: `${dir} still has mounts: ${mounted.join(", ")}` })
      }
      if (isSubvolume(dir)) {
        yield* HostCommand.run(tools.btrfs!.cli, ["subvolume", "delete", dir], { operation: "delete volume" })
      } else {
        yield* tryFs("delete volume", () => fs.rmSync(dir, { recursive: true, force: true }))
      }
    })

  const storage: Storage = {
    kind,
    paths: p,
    createVolume,
    deleteVolume,
    sandboxDir: (id) => path.join(p.sandboxes, id),
    mountPoint: (id) => path.join(p.runSandboxes, id)
  }
  return storage
})

/** Loop devices backed by the state image (`losetup -j`). */
export const loopDevices = (tools: Tools, image: string) =>
  Effect.gen(function*() {
    if (!fs.existsSync(image)) return []
    const result = yield* HostCommand.run(tools.losetup, ["-j", image], { operation: "losetup" })
    return result.stdout.split("\n").flatMap((line) => {
      const device = line.split(":")[0]?.trim()
      return device !== undefined && device.startsWith("/dev/") ? [device] : []
    })
  })

/**
 * Unmounts the state image and waits for its loop device to go: the kernel frees an autoclear
 * loop device only once the last user of the filesystem is gone, which can lag the unmount while
 * killed sandboxes' mount namespaces are torn down.
 */
export const unmountImage = (tools: Tools, p: Paths) =>
  Effect.gen(function*() {
    yield* Mounts.unmountAllUnder(tools, [p.state], { self: true })
    for (let i = 0; i < 100; i++) {
      if ((yield* loopDevices(tools, p.image)).length === 0) return
      yield* Effect.sleep("20 millis")
    }
    for (const device of yield* loopDevices(tools, p.image)) {
      yield* HostCommand.run(tools.losetup, ["-d", device], { operation: "losetup -d" })
    }
  })
