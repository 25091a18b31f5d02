/**
 * The host mount table as heyod needs it: what is mounted under a directory (to clean up exactly
 * our own), and the few mounts the runtime makes (overlay, read-only bind, loop image).
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as HostCommand from "./HostCommand.js"
import type { Tools } from "./Prerequisites.js"
import { RuntimeError } from "./Runtime.js"

export interface MountEntry {
  readonly mountPoint: string
  readonly fsType: string
  readonly source: string
}

/** Undoes the octal escapes (`\040` for a space...) the kernel uses in mountinfo fields. */
const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))

export const parseMountInfo = (text: string): ReadonlyArray<MountEntry> =>
  text.split("\n").flatMap((line) => {
    if (line.trim() === "") return []
    const fields = line.split(" ")
    const dash = fields.indexOf("-")
    if (dash < 0 || fields.length < dash + 3) return []
    return [{ mountPoint: unescape(fields[4]!), fsType: fields[dash + 1]!, source: unescape(fields[dash + 2]!) }]
  })

export const list = Effect.sync(() => parseMountInfo(fs.readFileSync("/proc/self/mountinfo", "utf8")))

const isUnder = (dir: string, candidate: string, self: boolean) =>
  (self && candidate === dir) || candidate.startsWith(dir.endsWith("/") ? dir : `${dir}/`)

/**
 * Mount points under any of `dirs` (and `dirs` themselves when `self`), deepest first: the order
 * to unmount them in.
 */
export const under = (dirs: ReadonlyArray<string>, options: { readonly self: boolean }) =>
  Effect.map(list, (entries) =>
    entries
      .filter((entry) => dirs.some((dir) => isUnder(path.resolve(dir), entry.mountPoint, options.self)))
      .map((entry) => entry.mountPoint)
      .sort((a, b) => b.split("/").length - a.split("/").length || b.length - a.length))

export const isMountPoint = (dir: string) => Effect.map(list, (entries) => entries.some((e) => e.mountPoint === dir))

/**
 * Unmounts one mount point; "not mounted" is success. A busy mount is retried briefly (a process
 * that held it may still be exiting), then detached lazily so shutdown never hangs on it.
 */
export const unmount = Effect.fn("Mounts.unmount")(function*(tools: Tools, mountPoint: string, sandboxId?: string) {
  for (let attempt = 0; attempt < 20; attempt++) {
    if (!(yield* isMountPoint(mountPoint))) return
    const result = yield* HostCommand.run(tools.umount, [mountPoint], {
      operation: "umount",
      sandboxId,
      okCodes: [32]
    })
    if (result.exitCode === 0) continue
    if (!/busy/i.test(result.stderr)) {
      if (!(yield* isMountPoint(mountPoint))) return
      return yield* new RuntimeError({ operation: "umount", message: `umount ${mountPoint}: ${result.stderr.trim()}`, ...(sandboxId !== undefined ? { sandboxId } : {}) })
    }
    yield* Effect.sleep(`${Math.min(5 * (attempt + 1), 50)} millis`)
  }
  yield* Effect.logWarning(`${mountPoint} stayed busy; detaching it lazily`)
  yield* HostCommand.run(tools.umount, ["-l", mountPoint], { operation: "umount", sandboxId, okCodes: [32] })
})

/** Unmounts everything under `dirs` (and `dirs` themselves when `self`), deepest first. */
export const unmountAllUnder = Effect.fn("Mounts.unmountAllUnder")(function*(
  tools: Tools,
  dirs: ReadonlyArray<string>,
  options: { readonly self: boolean }
) {
  for (const mountPoint of yield* under(dirs, options)) {
    yield* unmount(tools, mountPoint)
  }
})

export interface OverlaySpec {
  readonly lower: string
  readonly upper: string
  readonly work: string
  readonly target: string
}

/** overlayfs option syntax has no escape for these in paths given to mount(8). */
const unsafeInOptions = /[,:\\\n]/

export const mountOverlay = (tools: Tools, spec: OverlaySpec, sandboxId: string) =>
  Effect.gen(function*() {
    for (const dir of [spec.lower, spec.upper, spec.work]) {
      if (unsafeInOptions.test(dir)) {
        return yield* new RuntimeError({
          operation: "mount overlay",
          sandboxId,
          message: `${dir}: overlayfs cannot take a path containing ',', ':', '\\' or a newline; use another data dir`
        })
      }
    }
    yield* HostCommand.run(tools.mount, [
      "-t",
      "overlay",
      "overlay",
      "-o",
      // index=off whatever the host's default: with it, a rebuilt image would no longer match
      // the origin recorded in existing upper dirs and their mounts would be refused
      `lowerdir=${spec.lower},upperdir=${spec.upper},workdir=${spec.work},index=off`,
      spec.target
    ], { operation: "mount overlay", sandboxId })
  })

/**
 * A read-only bind made in the host's mount namespace. Because the host mount is read-only, the
 * copy a sandbox's (less privileged) mount namespace gets is locked read-only: sandbox root cannot
 * remount it writable, which it could do with a bind bwrap made itself.
 */
export const bindReadOnly = (tools: Tools, source: string, target: string) =>
  HostCommand.run(tools.mount, ["--bind", "-o", "ro", source, target], { operation: "bind mount" })
