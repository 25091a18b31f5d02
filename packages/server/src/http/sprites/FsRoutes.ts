/**
 * The Sprites filesystem routes (reference/sprites-api.md §2.10, §4.8, §9.10) over SandboxFs.
 *
 * - read streams the file's bytes as they come from the sandbox, with `Content-Length` when the
 *   size is known; an HTTP `Range` answers 206 with `Content-Range`, `start`/`end` query
 *   parameters (the control variant) answer 200 with that slice.
 * - write streams the raw request body into the file (no size limit, nothing held whole).
 * - every refusal of the filesystem, or of a malformed request to it, is `{error, code, path}`
 *   with the status the SDKs key off (404 for ENOENT); an unknown sprite or a stopped sandbox
 *   keeps the dialect's `{error, message}`.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesFs } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { FsFailed, statusOf } from "../../files/FsFailed.js"
import { type Range, SandboxFs } from "../../files/SandboxFs.js"
import * as Body from "../Body.js"
import { BadRequest } from "../HttpErrors.js"
import * as FsWatchSocket from "./FsWatchSocket.js"
import { query, sprite } from "./SpriteLookup.js"
import { withVersion } from "./SpritesErrorResponse.js"

const encodeErrorBody = Schema.encodeSync(SpritesFs.ErrorBody)

export const fsErrorResponse = (error: FsFailed) =>
  withVersion(
    HttpServerResponse.unsafeJson(
      encodeErrorBody(new SpritesFs.ErrorBody({ error: error.message, code: error.errno, path: error.path })),
      { status: statusOf(error) }
    )
  )

/** The `path` query parameter as sent, for the error body of a request that did not decode. */
const rawPath = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => new URL(request.url, "http://heyod").searchParams.get("path") ?? ""
)

/** Filesystem refusals and malformed requests in the fs error shape; the rest goes to the app. */
const fsErrors = <A, E, R>(effect: Effect.Effect<A, E | FsFailed | BadRequest, R>) =>
  effect.pipe(
    Effect.catchIf(
      (e): e is FsFailed | BadRequest =>
        typeof e === "object" && e !== null && "_tag" in e && (e._tag === "FsFailed" || e._tag === "BadRequest"),
      (e) =>
        e._tag === "FsFailed"
          ? Effect.succeed(fsErrorResponse(e))
          : Effect.map(rawPath, (path) => fsErrorResponse(new FsFailed({ code: "EINVAL", message: e.message, path })))
    )
  )

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; a list of ranges or another unit reads the whole file (RFC 9110 allows it). */
export const parseRange = (header: string | undefined): Range | undefined => {
  if (header === undefined) return undefined
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (match === null) return undefined
  const [, from, to] = match
  if (from === "" && to === "") return undefined
  if (from === "") return { suffix: Number(to) }
  const start = Number(from)
  const end = to === "" ? undefined : Number(to)
  if (end !== undefined && end < start) return undefined
  return { start, end }
}

const json = <A, I>(schema: Schema.Schema<A, I>, value: A, status = 200) =>
  HttpServerResponse.schemaJson(schema)(value, { status })

const read = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const record = yield* sprite
  const q = yield* query(SpritesFs.ReadQuery)
  const header = parseRange(request.headers["range"])
  const range: Range | undefined = header ?? (q.start !== undefined || q.end !== undefined ? { start: q.start, end: q.end } : undefined)
  const { body, info } = yield* (yield* SandboxFs).read(record.id, { path: q.path, workingDir: q.workingDir, range })
  const headers: Record<string, string> = { "accept-ranges": "bytes", "last-modified": new Date(info.modTime).toUTCString() }
  const partial = header !== undefined && info.size !== null && info.length !== null
  if (partial) headers["content-range"] = `bytes ${info.start}-${info.start + info.length! - 1}/${info.size}`
  return HttpServerResponse.stream(body, {
    status: partial ? 206 : 200,
    contentType: "application/octet-stream",
    ...(info.length === null ? {} : { contentLength: info.length }),
    headers
  })
})

const write = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const record = yield* sprite
  const q = yield* query(SpritesFs.WriteQuery)
  const body = request.stream.pipe(
    Stream.mapError((e) => new BadRequest({ message: `could not read the request body: ${e.message}` }))
  )
  const result = yield* (yield* SandboxFs).write(record.id, {
    path: q.path,
    workingDir: q.workingDir,
    mode: q.mode,
    mkdirParents: q.mkdirParents ?? q.mkdir ?? false
  }, body)
  return yield* json(SpritesFs.WriteResponse, result)
})

const list = Effect.gen(function*() {
  const record = yield* sprite
  const q = yield* query(SpritesFs.ListQuery)
  const result = yield* (yield* SandboxFs).list(record.id, {
    path: q.path,
    workingDir: q.workingDir,
    recursive: q.recursive ?? false,
    pattern: q.pattern,
    stat: q.stat ?? false
  })
  return yield* json(SpritesFs.ListResponse, result)
})

/** Query parameters (what the SDKs send) win over a JSON body (what the docs show). */
const remove = Effect.gen(function*() {
  const record = yield* sprite
  const q = yield* query(SpritesFs.DeleteQuery)
  const fromBody = q.path === undefined ? yield* Body.json(SpritesFs.DeleteRequest) : undefined
  const path = q.path ?? fromBody?.path
  if (path === undefined || path === "") return yield* new BadRequest({ message: "path is required" })
  const result = yield* (yield* SandboxFs).remove(record.id, {
    path,
    workingDir: q.workingDir ?? fromBody?.workingDir ?? "/",
    recursive: q.recursive ?? fromBody?.recursive ?? false
  })
  return yield* json(SpritesFs.DeleteResponse, result)
})

const rename = Effect.gen(function*() {
  const record = yield* sprite
  const body = yield* Body.json(SpritesFs.RenameRequest)
  return yield* json(SpritesFs.RenameResponse, yield* (yield* SandboxFs).rename(record.id, body))
})

const copy = Effect.gen(function*() {
  const record = yield* sprite
  const body = yield* Body.json(SpritesFs.CopyRequest)
  return yield* json(SpritesFs.CopyResponse, yield* (yield* SandboxFs).copy(record.id, body))
})

const chmod = Effect.gen(function*() {
  const record = yield* sprite
  const body = yield* Body.json(SpritesFs.ChmodRequest)
  return yield* json(SpritesFs.ChmodResponse, yield* (yield* SandboxFs).chmod(record.id, body))
})

const chown = Effect.gen(function*() {
  const record = yield* sprite
  const body = yield* Body.json(SpritesFs.ChownRequest)
  if (body.uid === undefined && body.gid === undefined) return yield* new BadRequest({ message: "uid or gid is required" })
  return yield* json(SpritesFs.ChownResponse, yield* (yield* SandboxFs).chown(record.id, body))
})

const base = "/v1/sprites/:name/fs"

export const router = HttpRouter.empty.pipe(
  HttpRouter.get(`${base}/read`, fsErrors(read)),
  HttpRouter.put(`${base}/write`, fsErrors(write)),
  HttpRouter.get(`${base}/list`, fsErrors(list)),
  HttpRouter.del(`${base}/delete`, fsErrors(remove)),
  HttpRouter.post(`${base}/rename`, fsErrors(rename)),
  HttpRouter.post(`${base}/copy`, fsErrors(copy)),
  HttpRouter.post(`${base}/chmod`, fsErrors(chmod)),
  HttpRouter.post(`${base}/chown`, fsErrors(chown)),
  HttpRouter.get(`${base}/watch`, FsWatchSocket.route)
)
