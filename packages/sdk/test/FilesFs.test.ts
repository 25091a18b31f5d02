/**
 * Files over HTTP against a fake server: the fs routes when the server lists the `fs` feature
 * (paths, queries, raw bodies, Range, errno errors), the base64 routes and `Unsupported` when
 * it does not.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Files from "../src/Files.js"
import * as HeyoClient from "../src/HeyoClient.js"

interface Seen {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array | undefined
}

type Answer = { readonly status?: number; readonly json?: unknown; readonly bytes?: Uint8Array }

/** A fake server: `features` for GET /capabilities, `answer` for everything else. */
const server = (features: ReadonlyArray<string>, answer: (seen: Seen) => Answer) => {
  const seen: Array<Seen> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function*() {
      let body: Uint8Array | undefined
      if (request.body._tag === "Uint8Array") body = request.body.body
      if (request.body._tag === "Stream") {
        // as a real client does: the body stream's failure is a transport failure of the request
        const chunks = yield* Stream.runCollect(request.body.stream).pipe(
          Effect.mapError((cause) => new HttpClientError.RequestError({ request, reason: "Transport", cause }))
        )
        body = Buffer.concat(Chunk.toReadonlyArray(chunks))
      }
      const s: Seen = { method: request.method, path: url.pathname, query: url.searchParams, headers: request.headers, body }
      const reply = url.pathname === "/capabilities" ? { json: { features } } : (seen.push(s), answer(s))
      const content = reply.bytes !== undefined ? new Blob([new Uint8Array(reply.bytes)]) : reply.json === undefined ? null : JSON.stringify(reply.json)
      return HttpClientResponse.fromWeb(request, new Response(content, { status: reply.status ?? 200 }))
    })
  )
  const layer = Files.layer.pipe(
    Layer.provide(HeyoClient.layer({ baseUrl: "http://heyod.test" })),
    Layer.provide(Layer.succeed(HttpClient.HttpClient, client))
  )
  return { seen, layer }
}

const entry = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
  name,
  path: `/workspace/${name}`,
  type,
  size: 3,
  mode: "0644",
  modTime: "2026-01-02T03:04:05Z",
  isDir: type === "directory",
  ...extra
})

describe("Files over the fs routes", () => {
  it.effect("read: GET fs/read by sandbox id, path and workingDir; a range is a Range header", () => {
    const { layer, seen } = server(["fs"], () => ({ bytes: new TextEncoder().encode("abc") }))
    return Effect.gen(function*() {
      assert.strictEqual(yield* Files.readText("sb-1", "a.txt"), "abc")
      yield* Files.read("sb-1", "/etc/x", { range: { start: 5, end: 9 } })
      yield* Files.readStream("sb-1", "b", { range: { start: 7 }, mountPath: "/data" }).pipe(Stream.runDrain)
      assert.deepStrictEqual(seen.map((s) => [s.method, s.path, s.query.get("path"), s.query.get("workingDir"), s.headers["range"]]), [
        ["GET", "/v1/sprites/sb-1/fs/read", "a.txt", "/workspace", undefined],
        ["GET", "/v1/sprites/sb-1/fs/read", "/etc/x", "/workspace", "bytes=5-9"],
        ["GET", "/v1/sprites/sb-1/fs/read", "b", "/data", "bytes=7-"]
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("write: PUT fs/write with the raw body (bytes or a Stream), mode and mkdirParents", () => {
    const { layer, seen } = server(["fs"], () => ({ json: { path: "/workspace/f", size: 6, mode: "0600" } }))
    return Effect.gen(function*() {
      yield* Files.write("sb-1", "f", "héllo", { mode: 0o600 })
      yield* Files.write("sb-1", "g", Stream.make(new Uint8Array([1, 2]), new Uint8Array([3])), { mkdirParents: false })
      assert.strictEqual(seen[0]?.method, "PUT")
      assert.strictEqual(seen[0]?.path, "/v1/sprites/sb-1/fs/write")
      assert.strictEqual(seen[0]?.query.get("mode"), "0600")
      assert.strictEqual(seen[0]?.query.get("mkdirParents"), "true")
      assert.strictEqual(new TextDecoder().decode(seen[0]?.body), "héllo")
      assert.strictEqual(seen[1]?.query.get("mkdirParents"), "false")
      assert.deepStrictEqual([...(seen[1]?.body ?? [])], [1, 2, 3])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a failing Stream fails the write with its own error", () => {
    const { layer } = server(["fs"], () => ({ json: { path: "/workspace/f", size: 0, mode: "0644" } }))
    return Effect.gen(function*() {
      const error = yield* Effect.flip(Files.write("sb-1", "f", Stream.fail("disk on fire" as const)))
      assert.strictEqual(error, "disk on fire")
    }).pipe(Effect.provide(layer))
  })

  it.effect("list and stat decode entries into FileInfo; stat asks for the path itself", () => {
    const { layer, seen } = server(["fs"], (s) =>
      s.query.get("stat") === "true"
        ? { json: { path: "/workspace/d", entries: [entry("d", "directory", { mode: "0750" })], count: 1 } }
        : { json: { path: "/workspace", entries: [entry("a.ts", "file"), entry("d", "directory")], count: 2 } })
    return Effect.gen(function*() {
      const list = yield* Files.list("sb-1", ".", { recursive: true, pattern: "*.ts" })
      assert.deepStrictEqual(list.map((e) => [e.name, e.type, e.mode, e.modTime.toISOString()]), [
        ["a.ts", "file", 0o644, "2026-01-02T03:04:05.000Z"],
        ["d", "directory", 0o644, "2026-01-02T03:04:05.000Z"]
      ])
      assert.strictEqual(seen[0]?.query.get("recursive"), "true")
      assert.strictEqual(seen[0]?.query.get("pattern"), "*.ts")
      const stat = yield* Files.stat("sb-1", "d")
      assert.isTrue(stat.isDirectory)
      assert.strictEqual(stat.mode, 0o750)
      assert.isTrue(yield* Files.exists("sb-1", "d"))
    }).pipe(Effect.provide(layer))
  })

  it.effect("error bodies {error, code, path} become the errno's error; others keep the status mapping", () => {
    const codes: Record<string, [number, string]> = {
      "/a": [404, "ENOENT"],
      "/b": [403, "EACCES"],
      "/c": [409, "ENOTEMPTY"],
      "/d": [400, "EISDIR"],
      "/e": [500, "EIO"]
    }
    const { layer } = server(["fs"], (s) => {
      const path = s.query.get("path") ?? ""
      const known = codes[path]
      return known === undefined
        ? { status: 404, json: { error: "not_found", message: "sprite not found: sb-x" } }
        : { status: known[0], json: { error: `${known[1]}: failed`, code: known[1], path } }
    })
    return Effect.gen(function*() {
      const tags = []
      for (const path of ["/a", "/b", "/c", "/d", "/e"]) tags.push((yield* Effect.flip(Files.read("sb-1", path)))._tag)
      assert.deepStrictEqual(tags, ["FileNotFound", "PermissionDenied", "DirectoryNotEmpty", "IsADirectory", "FilesystemError"])
      const missing = yield* Effect.flip(Files.read("sb-1", "/a"))
      if (missing._tag === "FileNotFound") {
        assert.strictEqual(missing.path, "/a")
        assert.strictEqual(missing.code, "ENOENT")
      }
      assert.isFalse(yield* Files.exists("sb-1", "/a"))
      assert.strictEqual((yield* Effect.flip(Files.read("sb-x", "/z")))._tag, "NotFound")
      yield* Files.remove("sb-1", "/a", { force: true })
    }).pipe(Effect.provide(layer))
  })

  it.effect("rename, copy, chmod, chown and remove send the reference's bodies and queries", () => {
    const { layer, seen } = server(["fs"], (s) => {
      const op = s.path.split("/").pop()
      switch (op) {
        case "rename":
          return { json: { source: "/workspace/a", dest: "/workspace/b" } }
        case "copy":
          return { json: { source: "/workspace/a", dest: "/workspace/b", count: 1, totalBytes: 3, copied: [] } }
        case "chmod":
          return { json: { path: "/workspace/a", mode: "0755", count: 1, affected: [] } }
        case "chown":
          return { json: { path: "/workspace/a", count: 1, affected: [] } }
        default:
          return { json: { deleted: ["/workspace/a"], count: 1 } }
      }
    })
    return Effect.gen(function*() {
      yield* Files.rename("sb-1", "a", "b")
      yield* Files.copy("sb-1", "a", "b", { recursive: true })
      yield* Files.chmod("sb-1", "a", 0o755, { recursive: true })
      yield* Files.chown("sb-1", "a", { uid: "nobody", gid: 0 })
      yield* Files.remove("sb-1", "a", { recursive: true })
      const json = (s: Seen | undefined) => JSON.parse(new TextDecoder().decode(s?.body))
      assert.deepStrictEqual(json(seen[0]), { source: "a", dest: "b", workingDir: "/workspace" })
      assert.deepStrictEqual(json(seen[1]), { source: "a", dest: "b", workingDir: "/workspace", recursive: true, preserveAttrs: false })
      assert.deepStrictEqual(json(seen[2]), { path: "a", workingDir: "/workspace", mode: "0755", recursive: true })
      assert.deepStrictEqual(json(seen[3]), { path: "a", workingDir: "/workspace", uid: "nobody", gid: 0, recursive: false })
      assert.deepStrictEqual([seen[4]?.method, seen[4]?.path, seen[4]?.query.get("recursive")], ["DELETE", "/v1/sprites/sb-1/fs/delete", "true"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("bad arguments never reach the server", () => {
    const { layer, seen } = server(["fs"], () => ({ json: {} }))
    return Effect.gen(function*() {
      assert.strictEqual((yield* Effect.flip(Files.chmod("sb-1", "a", 0o10000)))._tag, "InvalidArgument")
      assert.strictEqual((yield* Effect.flip(Files.read("sb-1", "")))._tag, "InvalidArgument")
      assert.strictEqual((yield* Effect.flip(Files.chown("sb-1", "a", {})))._tag, "InvalidArgument")
      assert.strictEqual((yield* Effect.flip(Files.watch("sb-1", []).pipe(Stream.runDrain)))._tag, "InvalidArgument")
      assert.strictEqual(seen.length, 0)
    }).pipe(Effect.provide(layer))
  })
})

describe("Files on a server without the fs routes", () => {
  it.effect("read, readStream and write use the base64 routes; the rest is Unsupported", () => {
    const { layer, seen } = server([], (s) =>
      s.path.endsWith("read-file") ? { json: { content: Buffer.from("0123456789").toString("base64") } } : { status: 201, json: { status: "created" } })
    return Effect.gen(function*() {
      assert.strictEqual(yield* Files.readText("sb-1", "a"), "0123456789")
      assert.strictEqual(yield* Files.readText("sb-1", "a", { range: { start: 2, end: 4 } }), "234")
      const streamed = yield* Files.readStream("sb-1", "a").pipe(Stream.runCollect)
      assert.strictEqual(Chunk.size(streamed), 1)
      yield* Files.write("sb-1", "w", Stream.make(new TextEncoder().encode("x")))
      assert.deepStrictEqual(seen.map((s) => s.path), ["/sandbox/sb-1/read-file", "/sandbox/sb-1/read-file", "/sandbox/sb-1/read-file", "/sandbox/sb-1/write-file"])
      for (
        const effect of [
          Files.list("sb-1", "."),
          Files.stat("sb-1", "a"),
          Files.mkdir("sb-1", "d"),
          Files.remove("sb-1", "a"),
          Files.rename("sb-1", "a", "b"),
          Files.chmod("sb-1", "a", 0o644),
          Files.write("sb-1", "w", "x", { mode: 0o600 }),
          Files.watch("sb-1", "a").pipe(Stream.runDrain)
        ]
      ) {
        const error = yield* Effect.flip(effect)
        assert.strictEqual(error._tag, "Unsupported")
      }
    }).pipe(Effect.provide(layer))
  })
})
