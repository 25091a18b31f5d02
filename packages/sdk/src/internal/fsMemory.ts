/**
 * `Files` for `Testing.layer`: the sandbox's files kept in its in-memory map (the one
 * `Testing.Mock.files` and command handlers see), plus directories, modes, owners and times.
 * It behaves like the fs routes: errno-typed failures, parents, recursive removal, moves of
 * whole trees, and `watch` events for the changes made through `Files`.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import { FileInfo } from "../FileInfo.js"
import type * as Files from "../Files.js"
import { FsEvent } from "../FsEvent.js"
import * as HeyoError from "../HeyoError.js"
import { filesFrom, parentOf, resolvePath } from "./fsService.js"

export interface MemorySandbox {
  readonly files: Map<string, Uint8Array>
  readonly status: string
}

export type Lookup = (id: string, call: string) => Effect.Effect<MemorySandbox, HeyoError.NotFound>

interface Meta {
  readonly dirs: Set<string>
  readonly modes: Map<string, number>
  readonly owners: Map<string, { readonly uid: number; readonly gid: number }>
  readonly times: Map<string, number>
  readonly events: PubSub.PubSub<FsEvent>
}

/** Names the fake knows, as a fresh image's /etc/passwd and /etc/group would. */
const knownIds: Readonly<Record<string, number>> = { root: 0, nobody: 65534, nogroup: 65534 }

const fsFail = (code: string, path: string, message: string) =>
  Effect.fail(HeyoError.fsError({ code, path, message: `${code}: ${message}, ${path}` }))

const childOf = (dir: string, path: string) => dir === "/" ? path.length > 1 : path.startsWith(dir + "/")

export const makeMemoryFiles = (lookup: Lookup): Files.Service => {
  const metas = new WeakMap<Map<string, Uint8Array>, Meta>()

  /** The sandbox's files and metadata; a sandbox that is not running refuses, as a server does. */
  const open = (id: string, call: string) =>
    Effect.gen(function*() {
      const s = yield* lookup(id, call)
      if (s.status !== "running") {
        return yield* new HeyoError.Api({ status: 409, message: `sandbox ${id} is ${s.status}, not running (calling ${call})` })
      }
      let meta = metas.get(s.files)
      if (meta === undefined) {
        meta = {
          dirs: new Set(),
          modes: new Map(),
          owners: new Map(),
          times: new Map(),
          events: yield* PubSub.unbounded<FsEvent>()
        }
        metas.set(s.files, meta)
      }
      return { files: s.files, meta }
    })

  type Opened = Effect.Effect.Success<ReturnType<typeof open>>

  const isDir = ({ files, meta }: Opened, path: string) =>
    path === "/" || meta.dirs.has(path) || [...files.keys()].some((f) => childOf(path, f)) ||
    [...meta.dirs].some((d) => childOf(path, d))

  const exists = (o: Opened, path: string) => o.files.has(path) || isDir(o, path)

  /** Every path below `dir` (files and directories), sorted. */
  const below = (o: Opened, dir: string) => {
    const all = new Set<string>()
    for (const path of [...o.files.keys(), ...o.meta.dirs]) {
      if (!childOf(dir, path)) continue
      // implicit parents between `dir` and the path are directories too
      for (let p = path; p !== dir && p !== "/"; p = parentOf(p)) all.add(p)
    }
    return [...all].sort()
  }

  const info = (o: Opened, path: string, now: number) => {
    const directory = !o.files.has(path)
    return new FileInfo({
      name: path === "/" ? "/" : path.slice(path.lastIndexOf("/") + 1),
      path,
      type: directory ? "directory" : "file",
      size: directory ? 0 : o.files.get(path)!.byteLength,
      mode: o.meta.modes.get(path) ?? (directory ? 0o755 : 0o644),
      modTime: new Date(o.meta.times.get(path) ?? now)
    })
  }

  const emit = (o: Opened, kind: FsEvent["kind"], path: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const data = o.files.get(path)
      return PubSub.publish(
        o.meta.events,
        new FsEvent({
          kind,
          path,
          timestamp: new Date(now),
          ...(data === undefined ? {} : { size: data.byteLength }),
          ...(kind === "remove" ? {} : { isDir: data === undefined })
        })
      )
    })

  /** The parent must be a directory (created when `parents`), never a file. */
  const ensureParent = (o: Opened, path: string, parents: boolean) =>
    Effect.gen(function*() {
      const parent = parentOf(path)
      for (let p = parent; p !== "/"; p = parentOf(p)) {
        if (o.files.has(p)) return yield* fsFail("ENOTDIR", p, "not a directory")
      }
      if (isDir(o, parent)) return
      if (!parents) return yield* fsFail("ENOENT", parent, "no such file or directory")
      for (let p = parent; p !== "/"; p = parentOf(p)) o.meta.dirs.add(p)
    })

  const removePath = (o: Opened, path: string) => {
    o.files.delete(path)
    o.meta.dirs.delete(path)
    o.meta.modes.delete(path)
    o.meta.owners.delete(path)
    o.meta.times.delete(path)
  }

  const concat = (chunks: ReadonlyArray<Uint8Array>) => {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
    let at = 0
    for (const chunk of chunks) {
      out.set(chunk, at)
      at += chunk.byteLength
    }
    return out
  }

  return filesFrom({
    readStream: (id, path, workingDir, range) =>
      Stream.unwrap(Effect.gen(function*() {
        const o = yield* open(id, `GET /v1/sprites/${id}/fs/read`)
        const target = resolvePath(workingDir, path)
        const data = o.files.get(target)
        if (data === undefined) {
          return yield* (isDir(o, target) ? fsFail("EISDIR", target, "illegal operation on a directory") : fsFail("ENOENT", target, "no such file or directory"))
        }
        if (range === undefined) return Stream.succeed(data)
        if (range.start >= data.byteLength) return yield* fsFail("EINVAL", target, "range not satisfiable")
        return Stream.succeed(data.subarray(range.start, range.end === undefined ? undefined : range.end + 1))
      })),
    write: (id, path, workingDir, content, options) =>
      Effect.gen(function*() {
        const o = yield* open(id, `PUT /v1/sprites/${id}/fs/write`)
        const target = resolvePath(workingDir, path)
        if (isDir(o, target)) return yield* fsFail("EISDIR", target, "illegal operation on a directory")
        yield* ensureParent(o, target, options.mkdirParents)
        // A copy: the caller may reuse its buffer.
        const bytes = content instanceof Uint8Array ? content.slice() : concat([...yield* Stream.runCollect(content)])
        const created = !o.files.has(target)
        o.files.set(target, bytes)
        if (options.mode !== undefined) o.meta.modes.set(target, options.mode)
        o.meta.times.set(target, yield* Clock.currentTimeMillis)
        if (created) yield* emit(o, "create", target)
        yield* emit(o, "write", target)
      }),
    list: (id, path, workingDir, options) =>
      Effect.gen(function*() {
        const o = yield* open(id, `GET /v1/sprites/${id}/fs/list`)
        const now = yield* Clock.currentTimeMillis
        const target = resolvePath(workingDir, path)
        if (!exists(o, target)) return yield* fsFail("ENOENT", target, "no such file or directory")
        if (options.stat || o.files.has(target)) return [info(o, target, now)]
        const pattern = options.pattern === undefined ? undefined : globToRegExp(options.pattern)
        return below(o, target)
          .filter((p) => options.recursive || parentOf(p) === target)
          .filter((p) => pattern === undefined || pattern.test(p.slice(p.lastIndexOf("/") + 1)))
          .map((p) => info(o, p, now))
      }),
    mkdir: (id, path, workingDir, options) =>
      Effect.gen(function*() {
        const o = yield* open(id, `PUT /v1/sprites/${id}/fs/write`)
        const target = resolvePath(workingDir, path)
        if (o.files.has(target)) return yield* fsFail("EEXIST", target, "file already exists")
        if (isDir(o, target)) {
          if (!options.recursive) return yield* fsFail("EEXIST", target, "file already exists")
        } else {
          yield* ensureParent(o, target, options.recursive)
          o.meta.dirs.add(target)
          yield* emit(o, "create", target)
        }
        if (options.mode !== undefined) o.meta.modes.set(target, options.mode)
      }),
    remove: (id, path, workingDir, recursive) =>
      Effect.gen(function*() {
        const o = yield* open(id, `DELETE /v1/sprites/${id}/fs/delete`)
        const target = resolvePath(workingDir, path)
        if (target === "/") return yield* fsFail("EPERM", target, "refusing to delete /")
        if (!exists(o, target)) return yield* fsFail("ENOENT", target, "no such file or directory")
        const children = below(o, target)
        if (children.length > 0 && !recursive) return yield* fsFail("ENOTEMPTY", target, "directory not empty")
        for (const child of children.reverse()) {
          removePath(o, child)
          yield* emit(o, "remove", child)
        }
        removePath(o, target)
        yield* emit(o, "remove", target)
      }),
    rename: (id, from, to, workingDir) =>
      Effect.gen(function*() {
        const o = yield* open(id, `POST /v1/sprites/${id}/fs/rename`)
        const source = resolvePath(workingDir, from)
        const dest = resolvePath(workingDir, to)
        if (!exists(o, source)) return yield* fsFail("ENOENT", source, "no such file or directory")
        if (childOf(source, dest)) return yield* fsFail("EINVAL", dest, "cannot move a directory into itself")
        yield* ensureParent(o, dest, false)
        for (const path of [source, ...below(o, source)]) {
          const moved = dest + path.slice(source.length)
          const data = o.files.get(path)
          if (data !== undefined) o.files.set(moved, data)
          if (o.meta.dirs.has(path)) o.meta.dirs.add(moved)
          for (const map of [o.meta.modes, o.meta.owners, o.meta.times] as ReadonlyArray<Map<string, unknown>>) {
            if (map.has(path)) map.set(moved, map.get(path))
          }
        }
        for (const path of [...below(o, source).reverse(), source]) removePath(o, path)
        yield* emit(o, "rename", source)
        yield* emit(o, "create", dest)
      }),
    copy: (id, from, to, workingDir, options) =>
      Effect.gen(function*() {
        const o = yield* open(id, `POST /v1/sprites/${id}/fs/copy`)
        const source = resolvePath(workingDir, from)
        const dest = resolvePath(workingDir, to)
        if (!exists(o, source)) return yield* fsFail("ENOENT", source, "no such file or directory")
        if (!o.files.has(source) && !options.recursive) return yield* fsFail("EISDIR", source, "is a directory: copy it with recursive")
        if (dest === source || childOf(source, dest)) return yield* fsFail("EINVAL", dest, "cannot copy into itself")
        yield* ensureParent(o, dest, false)
        for (const path of [source, ...below(o, source)]) {
          const copied = dest + path.slice(source.length)
          const data = o.files.get(path)
          if (data !== undefined) o.files.set(copied, data.slice())
          else o.meta.dirs.add(copied)
          const mode = o.meta.modes.get(path)
          if (mode !== undefined) o.meta.modes.set(copied, mode)
          if (options.preserveAttrs) {
            const owner = o.meta.owners.get(path)
            if (owner !== undefined) o.meta.owners.set(copied, owner)
          }
          yield* emit(o, "create", copied)
        }
      }),
    chmod: (id, path, workingDir, mode, recursive) =>
      Effect.gen(function*() {
        const o = yield* open(id, `POST /v1/sprites/${id}/fs/chmod`)
        const target = resolvePath(workingDir, path)
        if (!exists(o, target)) return yield* fsFail("ENOENT", target, "no such file or directory")
        for (const p of recursive ? [target, ...below(o, target)] : [target]) {
          o.meta.modes.set(p, mode)
          yield* emit(o, "chmod", p)
        }
      }),
    chown: (id, path, workingDir, owner) =>
      Effect.gen(function*() {
        const o = yield* open(id, `POST /v1/sprites/${id}/fs/chown`)
        const target = resolvePath(workingDir, path)
        if (!exists(o, target)) return yield* fsFail("ENOENT", target, "no such file or directory")
        const idOf = (value: number | string | undefined) =>
          value === undefined
            ? Effect.succeed(undefined)
            : typeof value === "number"
            ? Effect.succeed(value)
            : /^\d+$/.test(value)
            ? Effect.succeed(Number(value))
            : value in knownIds
            ? Effect.succeed(knownIds[value]!)
            : fsFail("EINVAL", target, `unknown user or group ${JSON.stringify(value)}`)
        const uid = yield* idOf(owner.uid)
        const gid = yield* idOf(owner.gid)
        for (const p of owner.recursive ? [target, ...below(o, target)] : [target]) {
          const current = o.meta.owners.get(p) ?? { uid: 0, gid: 0 }
          o.meta.owners.set(p, { uid: uid ?? current.uid, gid: gid ?? current.gid })
        }
      }),
    watch: (id, paths, workingDir, recursive) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const o = yield* open(id, `WSS /v1/sprites/${id}/fs/watch`)
        const targets = paths.map((p) => resolvePath(workingDir, p))
        for (const target of targets) {
          if (!exists(o, target)) return yield* fsFail("ENOENT", target, "no such file or directory")
        }
        const watched = (path: string) =>
          targets.some((t) => path === t || (recursive ? childOf(t, path) : parentOf(path) === t))
        const subscription = yield* PubSub.subscribe(o.meta.events)
        return Stream.fromQueue(subscription).pipe(Stream.filter((event) => watched(event.path)))
      }))
  })
}

/** The fs routes' glob (`*`, `?`, `[...]`, `\` escapes) on one name. */
const globToRegExp = (pattern: string): RegExp => {
  let out = "^"
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === "*") out += "[^/]*"
    else if (c === "?") out += "[^/]"
    else if (c === "\\" && i + 1 < pattern.length) out += pattern[++i]!.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 2)
      if (close < 0) {
        out += "\\["
        continue
      }
      const body = pattern.slice(i + 1, close)
      out += "[" + (body.startsWith("!") ? "^" + body.slice(1) : body) + "]"
      i = close
    } else out += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")
  }
  return new RegExp(out + "$", "s")
}
