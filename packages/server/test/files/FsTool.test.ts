/**
 * The file tool and heyod's reading of it, without a sandbox: fsTool.cjs run by `node` on a
 * temporary directory (its operations, errnos, globbing and edge cases), the header and line
 * splitting that treat its output as untrusted, and the HTTP Range parsing of the read route.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FsTool from "../../src/files/FsTool.js"
import { parseRange } from "../../src/http/sprites/FsRoutes.js"

const tool = (operation: Record<string, unknown>, input?: string) => {
  const argv = FsTool.argv(operation)
  const result = spawnSync(argv[0]!, argv.slice(1), { input: input ?? "", env: { ...FsTool.env, PATH: process.env["PATH"] ?? "" } })
  const text = result.stdout.toString("utf8")
  const at = text.indexOf("\n")
  return { header: JSON.parse(text.slice(0, at)) as Record<string, unknown>, rest: text.slice(at + 1), code: result.status }
}

describe("fsTool.cjs", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fstool-"))

  it("write, read with ranges, list with glob, copy, rename, chmod, delete", () => {
    const w = tool({ op: "write", path: "x/y.txt", workingDir: dir, mkdirParents: true, mode: "0640" }, "0123456789")
    assert.deepStrictEqual(w.header, { ok: true, path: `${dir}/x/y.txt`, size: 10, mode: "0640" })
    const r = tool({ op: "read", path: `${dir}/x/y.txt`, range: { start: 2, end: 4 } })
    assert.strictEqual(r.rest, "234")
    assert.strictEqual(r.header["length"], 3)
    assert.strictEqual(tool({ op: "read", path: `${dir}/x/y.txt`, range: { suffix: 2 } }).rest, "89")
    const beyond = tool({ op: "read", path: `${dir}/x/y.txt`, range: { start: 10 } })
    assert.strictEqual(beyond.header["unsatisfiable"], true)
    tool({ op: "write", path: `${dir}/x/[a].md`, mkdirParents: true }, "")
    const globbed = tool({ op: "list", path: dir, recursive: true, pattern: "\\[a\\].*" })
    assert.deepStrictEqual((globbed.header["entries"] as Array<{ name: string }>).map((e) => e.name), ["[a].md"])
    const classes = tool({ op: "list", path: `${dir}/x`, pattern: "[!y]*" })
    assert.deepStrictEqual((classes.header["entries"] as Array<{ name: string }>).map((e) => e.name), ["[a].md"])
    assert.strictEqual(tool({ op: "list", path: dir, pattern: "[" }).header["code"], "EINVAL")
    assert.strictEqual(tool({ op: "copy", source: `${dir}/x`, dest: `${dir}/x/inner`, recursive: true }).header["code"], "EINVAL")
    assert.strictEqual(tool({ op: "copy", source: `${dir}/x`, dest: `${dir}/x2`, recursive: true }).header["count"], 3)
    assert.deepStrictEqual(tool({ op: "rename", source: `${dir}/x2`, dest: `${dir}/x3` }).header, { ok: true, source: `${dir}/x2`, dest: `${dir}/x3` })
    assert.strictEqual(tool({ op: "chmod", path: `${dir}/x3`, mode: "0700", recursive: true }).header["count"], 3)
    assert.strictEqual(fs.statSync(`${dir}/x3/y.txt`).mode & 0o777, 0o700)
    assert.strictEqual(tool({ op: "delete", path: `${dir}/x3` }).header["code"], "ENOTEMPTY")
    assert.strictEqual(tool({ op: "delete", path: `${dir}/x3`, recursive: true }).header["count"], 3)
    assert.strictEqual(tool({ op: "delete", path: "/", recursive: true }).header["code"], "EPERM")
  })

  it("errnos: ENOENT, EISDIR, ENOTDIR through a file, EINVAL for modes, owners and ops", () => {
    const missing = tool({ op: "read", path: "nope", workingDir: dir })
    assert.deepStrictEqual([missing.header["ok"], missing.header["code"], missing.header["path"], missing.code], [false, "ENOENT", `${dir}/nope`, 1])
    assert.strictEqual(tool({ op: "read", path: dir }).header["code"], "EISDIR")
    tool({ op: "write", path: `${dir}/file` }, "f")
    assert.strictEqual(tool({ op: "write", path: `${dir}/file/child`, mkdirParents: true }, "c").header["code"], "ENOTDIR")
    assert.strictEqual(tool({ op: "write", path: `${dir}/m`, mode: "999" }, "").header["code"], "EINVAL")
    assert.strictEqual(tool({ op: "chown", path: `${dir}/file`, uid: "no-such-user-here" }).header["code"], "EINVAL")
    assert.strictEqual(tool({ op: "teleport" }).header["code"], "EINVAL")
    assert.strictEqual(tool({ op: "read", path: "a\0b" }).header["code"], "EINVAL")
  })

  it("list of a file is the file; stat=true is the path itself; symlinks are listed, not followed", () => {
    fs.mkdirSync(`${dir}/l`, { recursive: true })
    fs.symlinkSync("/", `${dir}/l/root`)
    const listed = tool({ op: "list", path: `${dir}/l`, recursive: true })
    assert.deepStrictEqual((listed.header["entries"] as Array<{ type: string }>).map((e) => e.type), ["symlink"])
    const self = tool({ op: "list", path: `${dir}/l`, stat: true })
    assert.deepStrictEqual((self.header["entries"] as Array<{ type: string; isDir: boolean }>).map((e) => [e.type, e.isDir]), [["directory", true]])
    tool({ op: "delete", path: `${dir}/l/root`, recursive: true })
    assert.isTrue(fs.existsSync("/etc"))
    assert.isFalse(fs.existsSync(`${dir}/l/root`))
  })
})

describe("reading the tool's output", () => {
  const bytes = (...parts: ReadonlyArray<string>) => Stream.fromIterable(parts.map((p) => new TextEncoder().encode(p)))

  it.effect("splitLine takes the first line and leaves the rest unread, chunks after it included", () =>
    Effect.gen(function*() {
      const split = yield* FsTool.splitLine(Stream.fromChunk(Chunk.make(new TextEncoder().encode("{\"ok\":"), new TextEncoder().encode("true}\nab"), new TextEncoder().encode("cd"))), 100).pipe(Effect.scoped)
      assert.isTrue(Option.isSome(split))
      if (Option.isNone(split)) return
      assert.strictEqual(split.value.line, "{\"ok\":true}")
    }))

  it.effect("splitLine gives none past the bound or without a newline", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone(yield* FsTool.splitLine(bytes("x".repeat(200)), 100).pipe(Effect.scoped)))
      assert.isTrue(Option.isNone(yield* FsTool.splitLine(bytes("no newline"), 100).pipe(Effect.scoped)))
    }))

  it.effect("lines splits across chunks and drops a line past the bound whole", () =>
    Effect.gen(function*() {
      const lines = yield* FsTool.lines(bytes("a\nb", "c\n", "x".repeat(50), "y".repeat(60), "\nd\n"), 100).pipe(Stream.runCollect)
      assert.deepStrictEqual(Chunk.toReadonlyArray(lines), ["a", "bc", "d"])
    }))
})

describe("Range", () => {
  it("parses single ranges, refuses what it cannot serve as a slice", () => {
    assert.deepStrictEqual(parseRange("bytes=0-99"), { start: 0, end: 99 })
    assert.deepStrictEqual(parseRange("bytes=100-"), { start: 100, end: undefined })
    assert.deepStrictEqual(parseRange("bytes=-5"), { suffix: 5 })
    assert.strictEqual(parseRange("bytes=5-1"), undefined)
    assert.strictEqual(parseRange("bytes=0-1,5-6"), undefined)
    assert.strictEqual(parseRange("items=0-1"), undefined)
    assert.strictEqual(parseRange(undefined), undefined)
  })
})
