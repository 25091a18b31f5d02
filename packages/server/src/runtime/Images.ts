/**
 * The image catalogue. One built-in image, `host`: the host's own Debian userland (`/usr`,
 * read-only) under a private root skeleton. It is what `ubuntu:24.04` and `debian:12` resolve to:
 * no download, no mirror, ready in milliseconds; the trade-off is that `apt-get install` cannot
 * write to `/usr` (use `/usr/local`-free tools: pip --user, npm prefixes, /opt, /workspace).
 *
 * The skeleton is the overlay's read-only lower layer. It is built with Node fs (fast) and stored
 * pre-shifted: every file belongs to the sandbox's root (host uid 100000+). /etc is a copy of an
 * allowlist of the host's /etc (configuration programs need), never its secrets: passwd, group,
 * shadow, hostname and hosts are generated, and a file that is not world-readable is skipped.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Mounts from "./Mounts.js"
import type { Tools } from "./Prerequisites.js"
import { type ImageInfo, RuntimeError } from "./Runtime.js"
import { shiftBase, shiftSize, type Storage } from "./Storage.js"

/** Bump when the skeleton's layout changes: a different version rebuilds the image. */
const builderVersion = 1

export interface Sources {
  readonly etc: string
  readonly usr: string
}

export const hostSources: Sources = { etc: "/etc", usr: "/usr" }

/**
 * Host /etc entries copied into the image (directories recursively). Everything else (ssh host
 * keys, ssl/private, credentials in gitconfig, npmrc, pip.conf, apt auth...) stays on the host.
 */
export const etcAllowlist: ReadonlyArray<string> = [
  "adduser.conf",
  "alternatives",
  "bash.bashrc",
  "bash_completion.d",
  "ca-certificates",
  "ca-certificates.conf",
  "debconf.conf",
  "debian_version",
  "deluser.conf",
  "dpkg",
  "environment",
  "ethertypes",
  "fonts",
  "gai.conf",
  "host.conf",
  "inputrc",
  "iproute2",
  "issue",
  "issue.net",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "locale.alias",
  "locale.gen",
  "localtime",
  "login.defs",
  "lsb-release",
  "magic",
  "magic.mime",
  "manpath.config",
  "mime.types",
  "nanorc",
  "networks",
  "nsswitch.conf",
  "os-release",
  "perl",
  "profile",
  "profile.d",
  "protocols",
  "rpc",
  "services",
  "sgml",
  "shells",
  "skel",
  "ssl/certs",
  "ssl/openssl.cnf",
  "terminfo",
  "timezone",
  "vim",
  "wgetrc",
  "xml"
]

/** Directory-name prefixes copied too (one per installed version). */
export const etcAllowPrefixes: ReadonlyArray<string> = ["python3", "java-"]

interface Definition {
  readonly info: ImageInfo
  /** Host directories bound read-only into the sandbox. */
  readonly binds: ReadonlyArray<{ readonly source: string; readonly target: string }>
  readonly fingerprint: () => string
  readonly build: (dir: string) => void
}

export interface Prepared {
  readonly info: ImageInfo
  /** The read-only overlay lower dir. */
  readonly lowerDir: string
  /** Read-only mounts under the run directory, each bound onto `target` in the sandbox. */
  readonly binds: ReadonlyArray<{ readonly source: string; readonly target: string }>
}

const shift = (id: number) => shiftBase + (id < shiftSize ? id : 65534)

interface Entry {
  readonly rel: string
  readonly stat: fs.Stats
  readonly link: string | undefined
}

const readable = (stat: fs.Stats) =>
  stat.isSymbolicLink() || (stat.isDirectory() ? (stat.mode & 0o005) === 0o005 : stat.isFile() && (stat.mode & 0o004) !== 0)

/** The allowlisted part of a host /etc, parents before children, secrets and specials left out. */
const etcEntries = (etc: string): Array<Entry> => {
  const out: Array<Entry> = []
  const visit = (rel: string) => {
    let stat: fs.Stats
    try {
      stat = fs.lstatSync(path.join(etc, rel))
    } catch {
      return
    }
    if (!readable(stat)) return
    if (stat.isSymbolicLink()) {
      out.push({ rel, stat, link: fs.readlinkSync(path.join(etc, rel)) })
    } else if (stat.isFile()) {
      out.push({ rel, stat, link: undefined })
    } else if (stat.isDirectory()) {
      out.push({ rel, stat, link: undefined })
      for (const name of fs.readdirSync(path.join(etc, rel)).sort()) visit(path.join(rel, name))
    }
  }
  let top: Array<string> = []
  try {
    top = fs.readdirSync(etc)
  } catch {
    // no /etc to copy from: the skeleton alone still works
  }
  const wanted = new Set(etcAllowlist.filter((rel) => !rel.includes("/")))
  const nested = etcAllowlist.filter((rel) => rel.includes("/"))
  for (const name of top.sort()) {
    if (wanted.has(name) || etcAllowPrefixes.some((prefix) => name.startsWith(prefix))) visit(name)
  }
  for (const rel of nested) {
    // a nested entry's parents are created plain (e.g. ssl/ without ssl/private)
    out.push(...parentsOf(etc, rel))
    visit(rel)
  }
  return out
}

const parentsOf = (root: string, rel: string): Array<Entry> => {
  const parts = rel.split("/").slice(0, -1)
  const out: Array<Entry> = []
  for (let i = 1; i <= parts.length; i++) {
    const parent = parts.slice(0, i).join("/")
    try {
      const stat = fs.lstatSync(path.join(root, parent))
      if (stat.isDirectory()) out.push({ rel: parent, stat, link: undefined })
    } catch {
      // missing parent: the nested entry is missing too
    }
  }
  return out
}

const usrMergeLinks = (usr: string) =>
  ["bin", "sbin", "lib", "lib32", "lib64", "libx32"].filter((dir) => fs.existsSync(path.join(usr, dir)))

const loginShell = (usr: string) => (fs.existsSync(path.join(usr, "bin/bash")) ? "/bin/bash" : "/bin/sh")

const users: ReadonlyArray<readonly [name: string, uid: number, gid: number, gecos: string, home: string]> = [
  ["daemon", 1, 1, "daemon", "/usr/sbin"],
  ["bin", 2, 2, "bin", "/bin"],
  ["sys", 3, 3, "sys", "/dev"],
  ["sync", 4, 65534, "sync", "/bin"],
  ["games", 5, 60, "games", "/usr/games"],
  ["man", 6, 12, "man", "/var/cache/man"],
  ["lp", 7, 7, "lp", "/var/spool/lpd"],
  ["mail", 8, 8, "mail", "/var/mail"],
  ["news", 9, 9, "news", "/var/spool/news"],
  ["uucp", 10, 10, "uucp", "/var/spool/uucp"],
  ["proxy", 13, 13, "proxy", "/bin"],
  ["www-data", 33, 33, "www-data", "/var/www"],
  ["backup", 34, 34, "backup", "/var/backups"],
  ["list", 38, 38, "Mailing List Manager", "/var/list"],
  ["irc", 39, 39, "ircd", "/run/ircd"],
  ["_apt", 42, 65534, "", "/nonexistent"],
  ["nobody", 65534, 65534, "nobody", "/nonexistent"]
]

const groups: ReadonlyArray<readonly [name: string, gid: number]> = [
  ["root", 0], ["daemon", 1], ["bin", 2], ["sys", 3], ["adm", 4], ["tty", 5], ["disk", 6], ["lp", 7],
  ["mail", 8], ["news", 9], ["uucp", 10], ["man", 12], ["proxy", 13], ["kmem", 15], ["dialout", 20],
  ["fax", 21], ["voice", 22], ["cdrom", 24], ["floppy", 25], ["tape", 26], ["sudo", 27], ["audio", 29],
  ["dip", 30], ["www-data", 33], ["backup", 34], ["operator", 37], ["list", 38], ["irc", 39], ["src", 40],
  ["shadow", 42], ["utmp", 43], ["video", 44], ["sasl", 45], ["plugdev", 46], ["staff", 50], ["games", 60],
  ["users", 100], ["nogroup", 65534]
]

/** Generated identity files: only the image's own accounts, every password locked. */
const generatedEtc = (usr: string) => {
  const shell = loginShell(usr)
  const days = 19000
  const passwd = [
    `root:x:0:0:root:/root:${shell}`,
    ...users.map(([name, uid, gid, gecos, home]) => `${name}:x:${uid}:${gid}:${gecos}:${home}:/usr/sbin/nologin`)
  ]
  const allUsers = ["root", ...users.map(([name]) => name)]
  return {
    passwd: { content: passwd.join("\n") + "\n", mode: 0o644, gid: 0 },
    group: { content: groups.map(([name, gid]) => `${name}:x:${gid}:`).join("\n") + "\n", mode: 0o644, gid: 0 },
    shadow: { content: allUsers.map((name) => `${name}:*:${days}:0:99999:7:::`).join("\n") + "\n", mode: 0o640, gid: 42 },
    gshadow: { content: groups.map(([name]) => `${name}:*::`).join("\n") + "\n", mode: 0o640, gid: 42 },
    hostname: { content: "sandbox\n", mode: 0o644, gid: 0 },
    hosts: {
      content: "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
      mode: 0o644,
      gid: 0
    }
  }
}

/** Top-level directories of the skeleton and their modes. */
const skeletonDirs: ReadonlyArray<readonly [string, number]> = [
  ["usr", 0o755],
  ["etc", 0o755],
  ["root", 0o700],
  ["home", 0o755],
  ["tmp", 0o1777],
  ["workspace", 0o755],
  ["run", 0o755],
  ["run/lock", 0o1777],
  ["var", 0o755],
  ["var/tmp", 0o1777],
  ["var/log", 0o755],
  ["var/lib", 0o755],
  ["var/cache", 0o755],
  ["var/spool", 0o755],
  ["var/mail", 0o755],
  ["var/backups", 0o755],
  ["mnt", 0o755],
  ["opt", 0o755],
  ["srv", 0o755],
  ["media", 0o755],
  ["proc", 0o555],
  ["dev", 0o755],
  ["sys", 0o555]
]

/** Changes owner to the shifted range, then restores the mode: chown clears setuid and setgid. */
const own = (file: string, uid: number, gid: number, mode: number | undefined) => {
  fs.lchownSync(file, shift(uid), shift(gid))
  if (mode !== undefined) fs.chmodSync(file, mode & 0o7777)
}

/** Builds the `host` image skeleton into `dir` (which must exist and be empty). */
export const buildHostRoot = (dir: string, sources: Sources = hostSources) => {
  fs.chmodSync(dir, 0o755)
  own(dir, 0, 0, 0o755)
  for (const [rel, mode] of skeletonDirs) {
    const target = path.join(dir, rel)
    fs.mkdirSync(target, { recursive: true })
    own(target, 0, 0, mode)
  }
  for (const link of usrMergeLinks(sources.usr)) {
    fs.symlinkSync(`usr/${link}`, path.join(dir, link))
    own(path.join(dir, link), 0, 0, undefined)
  }
  for (const [rel, target] of [["var/run", "/run"], ["var/lock", "/run/lock"], ["etc/mtab", "../proc/self/mounts"]] as const) {
    fs.symlinkSync(target, path.join(dir, rel))
    own(path.join(dir, rel), 0, 0, undefined)
  }
  const etc = path.join(dir, "etc")
  for (const entry of etcEntries(sources.etc)) {
    const target = path.join(etc, entry.rel)
    if (fs.existsSync(target) || isDanglingLink(target)) continue
    if (entry.link !== undefined) fs.symlinkSync(entry.link, target)
    else if (entry.stat.isDirectory()) fs.mkdirSync(target)
    else fs.copyFileSync(path.join(sources.etc, entry.rel), target)
    own(target, entry.stat.uid, entry.stat.gid, entry.link !== undefined ? undefined : entry.stat.mode)
  }
  for (const [name, file] of Object.entries(generatedEtc(sources.usr))) {
    const target = path.join(etc, name)
    fs.rmSync(target, { force: true })
    fs.writeFileSync(target, file.content)
    own(target, 0, file.gid, file.mode)
  }
}

const isDanglingLink = (file: string) => {
  try {
    return fs.lstatSync(file).isSymbolicLink()
  } catch {
    return false
  }
}

/** Changes whenever the builder or any copied host file does, so the image is rebuilt then. */
export const hostFingerprint = (sources: Sources = hostSources) => {
  const hash = crypto.createHash("sha256")
  hash.update(`builder ${builderVersion}\n${usrMergeLinks(sources.usr).join(",")}\n${loginShell(sources.usr)}\n`)
  for (const entry of etcEntries(sources.etc)) {
    const s = entry.stat
    hash.update(`${entry.rel}\0${s.mode}\0${s.uid}\0${s.gid}\0${s.size}\0${s.mtimeMs}\0${entry.link ?? ""}\n`)
  }
  return hash.digest("hex").slice(0, 16)
}

export const catalogue: ReadonlyArray<Definition> = [
  {
    info: {
      name: "host",
      aliases: ["ubuntu:24.04", "debian:12", "debian:bookworm"],
      description:
        "The host's Debian userland: /usr read-only from the host, with a private /etc, /root, /tmp, /var, /home and /workspace (the default working directory)."
    },
    binds: [{ source: "/usr", target: "/usr" }],
    fingerprint: () => hostFingerprint(),
    build: (dir) => buildHostRoot(dir)
  }
]

/** Canonical name of an image name or alias. */
export const resolve = (images: ReadonlyArray<{ readonly info: ImageInfo }>, name: string) =>
  images.find((image) => image.info.name === name || image.info.aliases.includes(name))?.info.name

const tryFs = <A>(f: () => A) =>
  Effect.try({
    try: f,
    catch: (error) => new RuntimeError({ operation: "image", message: error instanceof Error ? error.message : String(error) })
  })

/** Builds an image unless its stored fingerprint is current; a fresh build replaces the old one atomically. */
const ensureBuilt = (storage: Storage, image: Definition) =>
  Effect.gen(function*() {
    const dir = path.join(storage.paths.images, image.info.name)
    const marker = path.join(storage.paths.images, `${image.info.name}.version`)
    const fingerprint = yield* tryFs(image.fingerprint)
    const current = yield* tryFs(() => {
      try {
        return fs.readFileSync(marker, "utf8").trim()
      } catch {
        return undefined
      }
    })
    if (current === fingerprint && fs.existsSync(dir)) return
    const started = Date.now()
    const tmp = `${dir}.building`
    yield* storage.deleteVolume(tmp)
    yield* storage.createVolume(tmp)
    yield* tryFs(() => image.build(tmp))
    yield* tryFs(() => fs.rmSync(marker, { force: true }))
    yield* storage.deleteVolume(dir)
    yield* tryFs(() => {
      fs.renameSync(tmp, dir)
      fs.writeFileSync(marker, `${fingerprint}\n`)
    })
    yield* Effect.logInfo(`built image ${image.info.name} in ${Date.now() - started} ms`)
  })

/**
 * Builds missing or outdated images and mounts their read-only host binds under the run
 * directory; closing the scope unmounts the binds.
 */
export const prepare = (storage: Storage, tools: Tools): Effect.Effect<ReadonlyArray<Prepared>, RuntimeError, Scope.Scope> =>
  Effect.forEach(catalogue, (image) =>
    Effect.gen(function*() {
      yield* ensureBuilt(storage, image)
      const runDir = path.join(storage.paths.runImages, image.info.name)
      const binds = yield* Effect.forEach(image.binds, (bind, index) =>
        Effect.gen(function*() {
          const source = path.join(runDir, String(index))
          yield* tryFs(() => {
            fs.mkdirSync(runDir, { recursive: true })
            fs.chownSync(runDir, 0, shiftBase)
            fs.chmodSync(runDir, 0o710)
            fs.mkdirSync(source, { recursive: true })
          })
          yield* Effect.acquireRelease(
            Effect.gen(function*() {
              if (!(yield* Mounts.isMountPoint(source))) yield* Mounts.bindReadOnly(tools, bind.source, source)
            }),
            () => Mounts.unmount(tools, source).pipe(Effect.catchAll((e) => Effect.logError(e.message)))
          )
          return { source, target: bind.target }
        }))
      return { info: image.info, lowerDir: path.join(storage.paths.images, image.info.name), binds }
    }))
