/**
 * Unpacking an archive into a running sandbox. `tar` runs INSIDE the sandbox (joined like any
 * command: its mount namespace, its root, its user, its cgroups) and reads the archive from
 * stdin, which heyod feeds from its own copy. The kernel resolves every name the archive holds
 * in the sandbox's filesystem, so no entry (`../`, an absolute name, a symlink and then a write
 * through it, a hard link) can reach a host file, whatever GNU tar's own checks do or miss.
 * heyod never extracts anything on the host.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Service as RuntimeService } from "../runtime/Runtime.js"
import { RuntimeError } from "../runtime/Runtime.js"

/** tar refused the archive, or part of it; the message carries tar's own words. */
export class UnpackFailed extends Schema.TaggedError<UnpackFailed>()("UnpackFailed", {
  message: Schema.String
}) {}

/**
 * `$1` destination, `$2` "replace" to empty it first, `$3` leading components to strip.
 * --no-same-owner: files belong to the sandbox's user, never to uids the archive names.
 */
const script = [
  "set -e",
  "if [ \"$2\" = replace ]; then rm -rf -- \"$1\"; fi",
  "mkdir -p -- \"$1\"",
  "cd -- \"$1\"",
  "exec tar -xzf - --no-same-owner --no-overwrite-dir --strip-components=\"$3\""
].join("\n")

/** Destinations that would wreck the sandbox itself rather than replace a mount. */
const refused = new Set(["/", "/proc", "/dev", "/sys", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/run", "/tmp"])

/** An absolute, normalized path inside the sandbox, or a reason it is not acceptable. */
export const destination = (sandboxPath: string): { readonly path: string } | { readonly error: string } => {
  if (!sandboxPath.startsWith("/")) return { error: `sandbox_path must be absolute, got ${JSON.stringify(sandboxPath)}` }
  if (sandboxPath.includes("\0")) return { error: "sandbox_path contains a NUL byte" }
  const normalized = path.posix.normalize(sandboxPath).replace(/\/+$/, "") || "/"
  if (refused.has(normalized)) return { error: `sandbox_path ${normalized} cannot be replaced by an archive` }
  return { path: normalized }
}

/**
 * How many leading components to strip so entries under `prefix` land in `dest`: an archive of
 * `/workspace` holds `workspace/...`, unpacked at `/workspace` it must not make
 * `/workspace/workspace`. An archive whose entries are not all under `dest` is unpacked as is.
 */
export const stripFor = (prefix: string, dest: string) => {
  const rel = dest.replace(/^\/+/, "")
  if (prefix === "" || rel === "") return 0
  return prefix === rel || prefix.startsWith(`${rel}/`) ? rel.split("/").length : 0
}

/**
 * The directory every entry of a listing (`tar -tzf`, one name a line, directories ending in
 * `/`) sits under, "" when none. Only directories count: a lone file is not a prefix.
 */
export const commonPrefix = (listing: string): string => {
  let common: Array<string> | undefined
  for (const raw of listing.split("\n")) {
    if (raw === "") continue
    const isDir = raw.endsWith("/")
    const parts = raw.replace(/^(\.\/)+/, "").replace(/^\/+/, "").split("/").filter((p) => p !== "" && p !== ".")
    if (parts.includes("..")) return ""
    const dirs = isDir ? parts : parts.slice(0, -1)
    if (common === undefined) {
      common = dirs
    } else {
      let i = 0
      while (i < common.length && i < dirs.length && common[i] === dirs[i]) i++
      common = common.slice(0, i)
    }
    if (common.length === 0) return ""
  }
  return (common ?? []).join("/")
}

export interface UnpackOptions {
  /** Empty the destination first (replace-mount) rather than add to it (seeding at create). */
  readonly replace: boolean
  readonly strip: number
}

const maxStderr = 16 * 1024

export const unpack = (
  runtime: RuntimeService,
  sandboxId: string,
  file: string,
  dest: string,
  options: UnpackOptions
) =>
  Effect.scoped(Effect.gen(function*() {
    const process = yield* runtime.spawn(sandboxId, {
      argv: ["/bin/sh", "-c", script, "heyo-unpack", dest, options.replace ? "replace" : "add", String(options.strip)],
      cwd: "/",
      env: { LC_ALL: "C" },
      stdin: true
    })
    const feed = NodeStream.fromReadable(
      () => fs.createReadStream(file, { highWaterMark: 256 * 1024 }),
      (error) => new RuntimeError({ operation: "unpack", sandboxId, message: `reading the archive: ${String(error)}` })
    ).pipe(
      Stream.runForEach((chunk) => process.write(chunk)),
      Effect.zipRight(process.endStdin)
    )
    let stderr = ""
    const [, , , exitCode] = yield* Effect.all([
      feed,
      Stream.runDrain(process.stdout),
      Stream.runForEach(process.stderr, (chunk) =>
        Effect.sync(() => {
          if (stderr.length < maxStderr) stderr += Buffer.from(chunk).toString("utf8")
        })),
      process.exitCode
    ], { concurrency: "unbounded" })
    if (exitCode !== 0) {
      const detail = stderr.trim().split("\n").slice(-8).join("; ")
      return yield* new UnpackFailed({
        message: `the archive could not be unpacked at ${dest} (tar exited with ${exitCode})${detail === "" ? "" : `: ${detail}`}`
      })
    }
  }))
