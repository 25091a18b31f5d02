/**
 * What the namespace runtime needs from the host, checked once at start-up so a missing piece is
 * one clear message naming the fix, not a confusing failure at the first sandbox.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { hostEnv } from "./HostCommand.js"
import { RuntimeError } from "./Runtime.js"

/** Absolute paths of the host tools the runtime runs. */
export interface Tools {
  readonly sh: string
  readonly bwrap: string
  readonly nsenter: string
  readonly unshare: string
  readonly ip: string
  readonly mount: string
  readonly umount: string
  readonly losetup: string
  /** Present when btrfs-progs is installed. */
  readonly btrfs: { readonly mkfs: string; readonly cli: string } | undefined
}

/** Debian package of each tool, for the install hint. */
const packages: Readonly<Record<string, string>> = {
  sh: "dash",
  bwrap: "bubblewrap",
  nsenter: "util-linux",
  unshare: "util-linux",
  ip: "iproute2",
  mount: "mount",
  umount: "mount",
  losetup: "mount",
  "mkfs.btrfs": "btrfs-progs",
  btrfs: "btrfs-progs"
}

/** Looks a tool up in the usual directories, including sbin ones a non-login PATH may lack. */
export const which = (name: string): string | undefined => {
  for (const dir of hostEnv.PATH!.split(":")) {
    const candidate = path.join(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      if (fs.statSync(candidate).isFile()) return candidate
    } catch {
      // not in this directory
    }
  }
  return undefined
}

const installHint = (missing: ReadonlyArray<string>) => {
  const pkgs = [...new Set(missing.map((tool) => packages[tool] ?? tool))]
  return `missing ${missing.join(", ")}: install with \`apt-get install -y ${pkgs.join(" ")}\``
}

const fail = (message: string) => Effect.fail(new RuntimeError({ operation: "prerequisites", message }))

/**
 * Checks root and the tools. `btrfs`: "required" fails without btrfs-progs, "optional" only
 * reports whether it is there, "unused" skips it.
 */
export const check = Effect.fn("Prerequisites.check")(function*(btrfs: "required" | "optional" | "unused") {
  if (process.getuid?.() !== 0) {
    return yield* fail(
      "the sandbox runtime must run as root (it mounts overlays, creates network namespaces and cgroups, and maps uids): run heyod as root, e.g. with sudo"
    )
  }
  const base = ["sh", "bwrap", "nsenter", "unshare", "ip", "mount", "umount", "losetup"] as const
  const found = new Map<string, string>()
  const missing: Array<string> = []
  for (const tool of base) {
    const at = tool === "sh" ? (fs.existsSync("/bin/sh") ? "/bin/sh" : which("sh")) : which(tool)
    if (at === undefined) missing.push(tool)
    else found.set(tool, at)
  }
  const mkfs = which("mkfs.btrfs")
  const cli = which("btrfs")
  if (btrfs === "required") {
    if (mkfs === undefined) missing.push("mkfs.btrfs")
    if (cli === undefined) missing.push("btrfs")
  }
  if (missing.length > 0) return yield* fail(installHint(missing))
  const maxUserNamespaces = yield* Effect.sync(() => {
    try {
      return Number(fs.readFileSync("/proc/sys/user/max_user_namespaces", "utf8").trim())
    } catch {
      return 1
    }
  })
  if (maxUserNamespaces === 0) {
    return yield* fail("user namespaces are disabled: run `sysctl -w user.max_user_namespaces=65536`")
  }
  const tools: Tools = {
    sh: found.get("sh")!,
    bwrap: found.get("bwrap")!,
    nsenter: found.get("nsenter")!,
    unshare: found.get("unshare")!,
    ip: found.get("ip")!,
    mount: found.get("mount")!,
    umount: found.get("umount")!,
    losetup: found.get("losetup")!,
    btrfs: btrfs !== "unused" && mkfs !== undefined && cli !== undefined ? { mkfs, cli } : undefined
  }
  return tools
})
