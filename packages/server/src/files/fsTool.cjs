/*
 * heyod's file tool: one filesystem operation, run by `node -e` as a process joined into a
 * sandbox's namespaces (mount, pid, user...) and root, as the sandbox's own root user. Every path
 * is resolved by the kernel inside the sandbox, so `..`, absolute paths and symlinks (even one
 * swapped mid-call) can only ever reach the sandbox's own files: this script does no confinement
 * of its own, and needs none.
 *
 * Protocol (argv[1] is the operation as JSON; stdout carries the answer):
 * - the first line of stdout is a JSON header: `{"ok":true,...}` or
 *   `{"ok":false,"code":"ENOENT","message":"...","path":"..."}` (exit code 1);
 * - `read`: the file's bytes follow the header;
 * - `write`: stdin is the file's content; the header comes once it is all on disk;
 * - `watch`: after the header, one JSON line per event, until killed.
 *
 * heyod treats everything printed here as untrusted (the sandbox could tamper with this process):
 * it bounds and validates every line.
 */
"use strict"
const fs = require("node:fs")
const path = require("node:path")

const known = new Set(["ENOENT", "EEXIST", "ENOTDIR", "EISDIR", "EACCES", "EPERM", "ENOTEMPTY", "EINVAL", "EIO"])
// errnos outside the reference's list (§4.8), read as the nearest listed one
const nearest = { EROFS: "EPERM", ELOOP: "EINVAL", ENAMETOOLONG: "EINVAL", EBUSY: "EPERM", ENOSPC: "EIO", EDQUOT: "EIO", EFBIG: "EIO", EMLINK: "EIO", EXDEV: "EIO", ETXTBSY: "EPERM" }

class FsError extends Error {
  constructor(code, message, file) {
    super(message)
    this.code = code
    this.file = file
  }
}

const fail = (code, message, file) => {
  throw new FsError(code, message, file)
}

const send = (value) => process.stdout.write(JSON.stringify(value) + "\n")

const report = (error, fallbackPath) => {
  const raw = error && typeof error.code === "string" ? error.code : "UNKNOWN"
  const code = known.has(raw) ? raw : nearest[raw] || "UNKNOWN"
  const file = (error && (error.file || error.path)) || fallbackPath || ""
  const message = error instanceof FsError ? error.message : error && error.message ? error.message : String(error)
  send({ ok: false, code, message, path: file })
  process.exitCode = 1
}

const resolve = (workingDir, file) => {
  if (typeof file !== "string" || file === "") fail("EINVAL", "path is required", "")
  if (file.includes("\0") || (workingDir || "").includes("\0")) fail("EINVAL", "path contains a NUL byte", file)
  return path.posix.resolve("/", workingDir || "/", file)
}

const octal = (mode) => (mode & 0o7777).toString(8).padStart(4, "0")

const parseMode = (mode, file) => {
  if (typeof mode === "number" && Number.isInteger(mode) && mode >= 0 && mode <= 0o7777) return mode
  if (typeof mode === "string" && /^[0-7]{1,4}$/.test(mode)) return parseInt(mode, 8)
  return fail("EINVAL", `invalid mode ${JSON.stringify(mode)}: an octal string such as "0644"`, file)
}

const typeOf = (st) => (st.isSymbolicLink() ? "symlink" : st.isDirectory() ? "directory" : "file")

const entryOf = (file, st) => ({
  name: file === "/" ? "/" : path.posix.basename(file),
  path: file,
  type: typeOf(st),
  size: st.size,
  mode: octal(st.mode),
  modTime: new Date(st.mtimeMs).toISOString(),
  isDir: st.isDirectory()
})

/** Go's filepath.Match syntax (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes) on one name. */
const globRegExp = (pattern) => {
  let out = "^"
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === "*") out += "[^/]*"
    else if (c === "?") out += "[^/]"
    else if (c === "\\") {
      i++
      if (i >= pattern.length) fail("EINVAL", `invalid pattern ${JSON.stringify(pattern)}: trailing backslash`, "")
      out += pattern[i].replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")
    } else if (c === "[") {
      const close = pattern.indexOf("]", i + 2)
      if (close < 0) fail("EINVAL", `invalid pattern ${JSON.stringify(pattern)}: unclosed [`, "")
      let body = pattern.slice(i + 1, close)
      if (body.startsWith("^") || body.startsWith("!")) body = "^" + body.slice(1)
      out += "[" + body.replace(/\\(?!.)/g, "\\\\") + "]"
      i = close
    } else out += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")
  }
  try {
    return new RegExp(out + "$", "s")
  } catch {
    return fail("EINVAL", `invalid pattern ${JSON.stringify(pattern)}`, "")
  }
}

const maxEntries = 200000

const list = (op) => {
  const file = resolve(op.workingDir, op.path)
  if (op.stat === true) return { ok: true, path: file, entries: [entryOf(file, fs.lstatSync(file))], count: 1 }
  const match = typeof op.pattern === "string" && op.pattern !== "" ? globRegExp(op.pattern) : undefined
  const top = fs.statSync(file)
  if (!top.isDirectory()) {
    const entries = match === undefined || match.test(path.posix.basename(file)) ? [entryOf(file, fs.lstatSync(file))] : []
    return { ok: true, path: file, entries, count: entries.length }
  }
  const entries = []
  const walk = (dir) => {
    let names
    try {
      names = fs.readdirSync(dir)
    } catch (error) {
      // a subdirectory that vanished or is unreadable mid-walk is skipped, the top one is not
      if (dir === file) throw error
      return
    }
    names.sort()
    for (const name of names) {
      const child = dir === "/" ? "/" + name : dir + "/" + name
      let st
      try {
        st = fs.lstatSync(child)
      } catch {
        continue
      }
      if (match === undefined || match.test(name)) {
        if (entries.length >= maxEntries) {
          fail("EIO", `more than ${maxEntries} entries under ${file}: narrow the path or the pattern`, file)
        }
        entries.push(entryOf(child, st))
      }
      // symlinks are listed, never followed
      if (op.recursive === true && st.isDirectory()) walk(child)
    }
  }
  walk(file)
  return { ok: true, path: file, entries, count: entries.length }
}

const read = (op) => {
  const file = resolve(op.workingDir, op.path)
  const fd = fs.openSync(file, "r")
  const st = fs.fstatSync(fd)
  if (st.isDirectory()) fail("EISDIR", `EISDIR: illegal operation on a directory, read '${file}'`, file)
  const regular = st.isFile()
  let start = 0
  let end
  const range = op.range
  if (range !== undefined && range !== null) {
    if (!regular) fail("EINVAL", `a byte range needs a regular file: ${file}`, file)
    if (typeof range.suffix === "number") {
      start = Math.max(0, st.size - range.suffix)
      end = st.size - 1
    } else {
      start = typeof range.start === "number" ? range.start : 0
      end = typeof range.end === "number" ? Math.min(range.end, st.size - 1) : st.size - 1
    }
    if (start >= st.size || start > end) {
      send({ ok: false, code: "EINVAL", message: `range not satisfiable: ${file} has ${st.size} bytes`, path: file, size: st.size, unsatisfiable: true })
      process.exitCode = 1
      return
    }
  }
  const length = regular ? (end === undefined ? st.size - start : end - start + 1) : null
  send({ ok: true, path: file, size: regular ? st.size : null, start, length, mode: octal(st.mode), modTime: new Date(st.mtimeMs).toISOString() })
  if (length === 0) return fs.closeSync(fd)
  const options = { fd, start, highWaterMark: 1024 * 1024 }
  if (length !== null) options.end = start + length - 1
  const stream = fs.createReadStream(null, options)
  stream.on("error", () => process.exit(3))
  stream.pipe(process.stdout)
}

const write = (op) => {
  const file = resolve(op.workingDir, op.path)
  const mode = op.mode === undefined || op.mode === null ? undefined : parseMode(op.mode, file)
  if (op.mkdirParents === true) {
    try {
      fs.mkdirSync(path.posix.dirname(file), { recursive: true })
    } catch (error) {
      // mkdir -p says EEXIST when a component is a file; opening through it is ENOTDIR
      if (error.code === "EEXIST") fail("ENOTDIR", `ENOTDIR: a component of ${path.posix.dirname(file)} is not a directory`, file)
      throw error
    }
  }
  const fd = fs.openSync(file, "w", mode === undefined ? 0o644 : mode)
  // open's mode only applies to a new file (and through the umask): set it as asked
  if (mode !== undefined) fs.fchmodSync(fd, mode)
  // from the open file, not the path: the path may point elsewhere by the time the write ends
  const finalMode = octal(fs.fstatSync(fd).mode)
  // A blocking copy loop: about twice the throughput of streams. stdin is a blocking pipe
  // (inherited through nsenter); were it not, EAGAIN hands over to the stream path.
  const buffer = Buffer.allocUnsafe(1024 * 1024)
  let size = 0
  while (true) {
    let n
    try {
      n = fs.readSync(0, buffer, 0, buffer.length, null)
    } catch (error) {
      if (error.code === "EAGAIN") return writeStreaming(fd, file, size, finalMode)
      if (error.code === "EOF") break
      throw error
    }
    if (n === 0) break
    for (let at = 0; at < n;) at += fs.writeSync(fd, buffer, at, n - at)
    size += n
  }
  fs.closeSync(fd)
  send({ ok: true, path: file, size, mode: finalMode })
}

const writeStreaming = (fd, file, written, finalMode) => {
  let size = written
  const out = fs.createWriteStream(null, { fd, highWaterMark: 1024 * 1024 })
  process.stdin.on("data", (chunk) => {
    size += chunk.length
    if (!out.write(chunk)) {
      process.stdin.pause()
      out.once("drain", () => process.stdin.resume())
    }
  })
  process.stdin.on("end", () => out.end())
  out.on("error", (error) => {
    report(error, file)
    process.exit(1)
  })
  out.on("finish", () => send({ ok: true, path: file, size, mode: finalMode }))
}

const removeTree = (file, deleted, counter) => {
  const st = fs.lstatSync(file)
  if (st.isDirectory()) {
    for (const name of fs.readdirSync(file)) removeTree(file === "/" ? "/" + name : file + "/" + name, deleted, counter)
    fs.rmdirSync(file)
  } else fs.unlinkSync(file)
  counter.count++
  if (deleted.length < 10000) deleted.push(file)
}

const remove = (op) => {
  const file = resolve(op.workingDir, op.path)
  if (file === "/") fail("EPERM", "refusing to delete /", file)
  const st = fs.lstatSync(file)
  const deleted = []
  const counter = { count: 0 }
  if (st.isDirectory() && op.recursive !== true) {
    fs.rmdirSync(file)
    deleted.push(file)
    counter.count = 1
  } else removeTree(file, deleted, counter)
  return { ok: true, deleted, count: counter.count }
}

/** Copies a tree without following symlinks; returns what it copied. */
const copyTree = (source, dest, op, state) => {
  const st = fs.lstatSync(source)
  if (st.isDirectory()) {
    if (op.recursive !== true) fail("EISDIR", `${source} is a directory: copy it with recursive`, source)
    try {
      fs.mkdirSync(dest, { mode: st.mode & 0o7777 })
    } catch (error) {
      if (error.code !== "EEXIST" || !fs.lstatSync(dest).isDirectory()) throw error
    }
    for (const name of fs.readdirSync(source).sort()) {
      copyTree(source + "/" + name, dest + "/" + name, op, state)
    }
    fs.chmodSync(dest, st.mode & 0o7777)
  } else if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(source), dest)
  } else if (st.isFile()) {
    fs.copyFileSync(source, dest)
    fs.chmodSync(dest, st.mode & 0o7777)
    state.totalBytes += st.size
  } else fail("EINVAL", `${source} is not a regular file, a directory or a symlink`, source)
  if (op.preserveAttrs === true) {
    fs.lchownSync(dest, st.uid, st.gid)
    if (!st.isSymbolicLink()) fs.utimesSync(dest, st.atime, st.mtime)
  }
  state.count++
  if (state.copied.length < 1000) state.copied.push({ source, dest })
}

const copy = (op) => {
  const source = resolve(op.workingDir, op.source)
  const dest = resolve(op.workingDir, op.dest)
  if (dest === source || dest.startsWith(source + "/")) fail("EINVAL", `cannot copy ${source} into itself`, dest)
  const state = { count: 0, totalBytes: 0, copied: [] }
  copyTree(source, dest, op, state)
  return { ok: true, source, dest, count: state.count, totalBytes: state.totalBytes, copied: state.copied }
}

const rename = (op) => {
  const source = resolve(op.workingDir, op.source)
  const dest = resolve(op.workingDir, op.dest)
  try {
    fs.renameSync(source, dest)
  } catch (error) {
    if (error.code !== "EXDEV") throw error
    // across mounts (e.g. into /tmp): copy with attributes, then delete
    copyTree(source, dest, { recursive: true, preserveAttrs: true }, { count: 0, totalBytes: 0, copied: [] })
    removeTree(source, [], { count: 0 })
  }
  return { ok: true, source, dest }
}

/** Applies `f` to `file` and, with recursive, to everything under it (symlinks are skipped). */
const walkApply = (file, recursive, f) => {
  const affected = []
  let count = 0
  const visit = (p, top) => {
    const st = top ? fs.statSync(p) : fs.lstatSync(p)
    if (!top && st.isSymbolicLink()) return
    const result = f(p)
    count++
    if (affected.length < 10000) affected.push(result)
    if (recursive && st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) visit(p === "/" ? "/" + name : p + "/" + name, false)
    }
  }
  visit(file, true)
  return { affected, count }
}

const chmod = (op) => {
  const file = resolve(op.workingDir, op.path)
  const mode = parseMode(op.mode, file)
  const { affected, count } = walkApply(file, op.recursive === true, (p) => {
    fs.chmodSync(p, mode)
    return { path: p, mode: octal(mode) }
  })
  return { ok: true, path: file, mode: octal(mode), count, affected }
}

/** A user or group id: a number, a numeric string, or a name from the sandbox's own files. */
const idOf = (value, database, file) => {
  if (value === undefined || value === null) return -1
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value)
  if (typeof value === "string" && value !== "") {
    let text = ""
    try {
      text = fs.readFileSync(database, "utf8")
    } catch {
      // no such database: the name is unknown
    }
    for (const line of text.split("\n")) {
      const fields = line.split(":")
      if (fields[0] === value && /^\d+$/.test(fields[2] || "")) return Number(fields[2])
    }
    return fail("EINVAL", `unknown ${database === "/etc/passwd" ? "user" : "group"} ${JSON.stringify(value)}`, file)
  }
  return fail("EINVAL", `invalid owner ${JSON.stringify(value)}`, file)
}

const chown = (op) => {
  const file = resolve(op.workingDir, op.path)
  const uid = idOf(op.uid, "/etc/passwd", file)
  const gid = idOf(op.gid, "/etc/group", file)
  if (uid < 0 && gid < 0) fail("EINVAL", "uid or gid is required", file)
  const { affected, count } = walkApply(file, op.recursive === true, (p) => {
    fs.chownSync(p, uid, gid)
    const st = fs.lstatSync(p)
    return { path: p, uid: st.uid, gid: st.gid }
  })
  return { ok: true, path: file, uid: uid < 0 ? undefined : uid, gid: gid < 0 ? undefined : gid, count, affected }
}

const maxWatchedDirs = 10000

const watch = (op) => {
  const paths = Array.isArray(op.paths) ? op.paths : []
  if (paths.length === 0) fail("EINVAL", "paths is required", "")
  const targets = paths.map((p) => resolve(op.workingDir, p))
  const recursive = op.recursive === true
  const watchers = new Map()
  const seen = new Map()
  const remember = (p) => {
    try {
      const st = fs.lstatSync(p)
      seen.set(p, { mode: st.mode, mtimeMs: st.mtimeMs })
      return st
    } catch {
      seen.delete(p)
      return undefined
    }
  }
  const emit = (p, event, st) => {
    const line = { type: "event", path: p, event, timestamp: new Date().toISOString() }
    if (st !== undefined) {
      line.isDir = st.isDirectory()
      if (st.isFile()) line.size = st.size
    }
    send(line)
  }
  const unwatch = (dir) => {
    for (const [p, w] of watchers) {
      if (p === dir || p.startsWith(dir + "/")) {
        w.close()
        watchers.delete(p)
      }
    }
  }
  const onEvent = (base, isDir) => (kind, name) => {
    const p = isDir ? (name ? (base === "/" ? "/" + name : base + "/" + name) : base) : base
    const before = seen.get(p)
    const st = remember(p)
    if (kind === "rename") {
      if (st === undefined) {
        if (watchers.has(p)) unwatch(p)
        emit(p, "remove", undefined)
      } else {
        emit(p, "create", st)
        // what was made inside a new directory before its watch existed is announced too
        if (recursive && st.isDirectory() && isDir) {
          try {
            add(p, true, true)
          } catch {
            // gone again already
          }
        }
      }
    } else if (st !== undefined) {
      const chmodOnly = before !== undefined && before.mode !== st.mode && before.mtimeMs === st.mtimeMs
      emit(p, chmodOnly ? "chmod" : "write", st)
    }
  }
  const add = (p, deep, announce) => {
    if (watchers.has(p)) return
    if (watchers.size >= maxWatchedDirs) {
      send({ type: "error", message: `more than ${maxWatchedDirs} directories to watch; ${p} and beyond are not watched` })
      return
    }
    const st = fs.lstatSync(p)
    const isDir = st.isDirectory()
    seen.set(p, { mode: st.mode, mtimeMs: st.mtimeMs })
    const w = fs.watch(p, { persistent: true }, onEvent(p, isDir))
    w.on("error", () => {
      w.close()
      watchers.delete(p)
    })
    watchers.set(p, w)
    if (!isDir) return
    for (const name of fs.readdirSync(p)) {
      const child = p === "/" ? "/" + name : p + "/" + name
      const cst = remember(child)
      if (announce && cst !== undefined) emit(child, "create", cst)
      if (deep && cst !== undefined && cst.isDirectory()) {
        try {
          add(child, true, announce)
        } catch {
          // gone or unreadable: not watched
        }
      }
    }
  }
  const subscribed = []
  const errors = []
  for (const p of targets) {
    try {
      add(p, recursive, false)
      subscribed.push(p)
    } catch (error) {
      errors.push({ path: p, code: error.code || "UNKNOWN", message: error.message })
    }
  }
  if (subscribed.length === 0) {
    const first = errors[0]
    throw new FsError(first.code, first.message, first.path)
  }
  send({ ok: true, paths: subscribed, errors })
  // stdin closes when heyod goes away: stop then
  process.stdin.on("end", () => process.exit(0))
  process.stdin.resume()
}

const ops = { list, read, write, delete: remove, copy, rename, chmod, chown, watch }

let op
try {
  op = JSON.parse(process.argv[1])
} catch {
  op = undefined
}
try {
  const f = op && Object.prototype.hasOwnProperty.call(ops, op.op) ? ops[op.op] : undefined
  if (f === undefined) fail("EINVAL", `unknown operation ${JSON.stringify(op && op.op)}`, "")
  const result = f(op)
  if (result !== undefined) send(result)
} catch (error) {
  report(error, op && typeof op.path === "string" ? op.path : undefined)
}
