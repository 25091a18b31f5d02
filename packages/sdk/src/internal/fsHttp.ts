/**
 * The Files transport: the Sprites-dialect fs routes (reference/sprites-api.md §2.10) on a
 * server that lists the `fs` feature, addressed by sandbox id; otherwise Heyo's base64 routes
 * for whole small files, and `Unsupported` for the rest.
 *
 * Bodies are streamed both ways: a read is the response's byte stream with an idle timeout
 * (never a total one), a write sends the caller's Stream as the request body as it is pulled.
 * A fs error body `{error, code, path}` becomes the HeyoError of its errno.
 */
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { HeyoFiles, SpritesFs } from "@heyo-effect/protocol"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { FileInfo } from "../FileInfo.js"
import { FsEvent } from "../FsEvent.js"
import type * as HeyoClient from "../HeyoClient.js"
import * as HeyoError from "../HeyoError.js"
import type { Error, FsBackend, Range } from "./fsService.js"
import { modeString, parentOf, resolvePath } from "./fsService.js"
import * as Http from "./http.js"
import { encode } from "./services.js"

const feature = "fs"

/** Past this, a Stream written without the fs routes would have to sit whole in memory. */
const maxFallbackBytes = 32 * 1024 * 1024

const decodeErrorBody = Schema.decodeUnknownOption(SpritesFs.ErrorBodyTolerant)
const decodeWatchMessage = Schema.decodeUnknownOption(SpritesFs.WatchServerMessageFromJson)

export const fileInfoOf = (entry: SpritesFs.Entry): FileInfo =>
  new FileInfo({
    name: entry.name,
    path: entry.path,
    type: entry.type,
    size: entry.size,
    mode: parseInt(entry.mode, 8) || 0,
    modTime: new Date(entry.modTime)
  })

/** An `error` watch frame: the errno leads node's messages (`ENOENT: no such file...`). */
const watchFailure = (message: string, path: string): HeyoError.FsError => {
  const code = /^(E[A-Z]+)\b/.exec(message)?.[1] ?? "UNKNOWN"
  return HeyoError.fsError({ code, path, message })
}

export const httpFsBackend = (client: HeyoClient.Service): FsBackend => {
  const hasFs = Effect.map(client.capabilities, (c) => c.features.includes(feature))
  const route = (id: string, op: string) => Http.path`/v1/sprites/${id}/fs/` + op

  const connection = (call: string) => (error: HttpClientError.HttpClientError) =>
    new HeyoError.Connection({ message: `network error (calling ${call}): ${Http.describeCause(error.cause ?? error)}`, cause: error })

  const timeout = (call: string, what: string) => () =>
    new HeyoError.Timeout({ message: `${what} after ${client.timeout.toString()} (calling ${call})`, timeout: client.timeout })

  /** A non-2xx: the errno's error when the body has a fs `code`, else the usual status mapping. */
  const failure = (call: string, response: HttpClientResponse.HttpClientResponse) =>
    response.text.pipe(
      Effect.orElseSucceed(() => ""),
      Effect.flatMap((text): Effect.Effect<never, Error> => {
        const body = Option.flatMap(Http.parseJson(text), decodeErrorBody)
        if (Option.isSome(body) && body.value.code !== undefined && body.value.path !== undefined) {
          const message = body.value.error ?? body.value.message ?? `${body.value.code} ${body.value.path}`
          return Effect.fail(HeyoError.fsError({ code: body.value.code, path: body.value.path, message: `${message} (calling ${call})` }))
        }
        return Effect.flatMap(Http.statusError(call, response.status, text, response.headers), Effect.fail)
      })
    )

  /** Up to the response headers, bounded by the client's timeout; a non-2xx fails. */
  const send = (request: HttpClientRequest.HttpClientRequest, call: string) =>
    client.httpClient.execute(request).pipe(
      Effect.mapError(connection(call)),
      Effect.timeoutFail({ duration: client.timeout, onTimeout: timeout(call, "no response") }),
      Effect.flatMap((response) =>
        response.status >= 200 && response.status < 300 ? Effect.succeed(response) : failure(call, response)
      )
    )

  const json = <A, I>(schema: Schema.Schema<A, I>, request: HttpClientRequest.HttpClientRequest, call: string) =>
    send(request, call).pipe(
      Effect.flatMap((response) =>
        response.json.pipe(
          Effect.mapError(connection(call)),
          Effect.timeoutFail({ duration: client.timeout, onTimeout: timeout(call, "response body stalled") }),
          Effect.flatMap((body) =>
            Schema.decodeUnknown(schema)(body).pipe(
              Effect.mapError((e) =>
                new HeyoError.Api({ status: response.status, message: `unexpected response body (calling ${call}): ${Http.describeIssues(e)}` })
              )
            )
          )
        )
      )
    )

  const post = <A, I>(schema: Schema.Schema<A, I>, id: string, op: string, body: unknown) =>
    Effect.zipRight(
      client.requireFeature(feature),
      json(schema, HttpClientRequest.post(route(id, op)).pipe(HttpClientRequest.bodyUnsafeJson(body)), `POST ${route(id, op)}`)
    )

  const list: FsBackend["list"] = (id, path, workingDir, options) =>
    Effect.gen(function*() {
      yield* client.requireFeature(feature)
      const params: Record<string, string> = { path, workingDir }
      if (options.recursive) params["recursive"] = "true"
      if (options.pattern !== undefined) params["pattern"] = options.pattern
      if (options.stat) params["stat"] = "true"
      const call = `GET ${route(id, "list")}`
      const response = yield* json(
        SpritesFs.ListResponse,
        HttpClientRequest.get(route(id, "list")).pipe(HttpClientRequest.setUrlParams(params)),
        call
      )
      return response.entries.map(fileInfoOf)
    })

  const readBase64 = (id: string, path: string, workingDir: string) =>
    encode(HeyoFiles.ReadFileRequest, new HeyoFiles.ReadFileRequest({ filePath: path, mountPath: workingDir }, true)).pipe(
      Effect.flatMap((body) => client.json(HeyoFiles.ReadFileResponse, { method: "POST", path: Http.path`/sandbox/${id}/read-file`, body })),
      Effect.map((response) => response.content)
    )

  const readStream: FsBackend["readStream"] = (id, path, workingDir, range) =>
    Stream.unwrap(Effect.gen(function*() {
      if (!(yield* hasFs)) {
        return Stream.fromEffect(readBase64(id, path, workingDir)).pipe(
          Stream.map((bytes) => range === undefined ? bytes : bytes.subarray(range.start, range.end === undefined ? undefined : range.end + 1))
        )
      }
      const call = `GET ${route(id, "read")}`
      let request = HttpClientRequest.get(route(id, "read")).pipe(HttpClientRequest.setUrlParams({ path, workingDir }))
      if (range !== undefined) request = HttpClientRequest.setHeader(request, "range", rangeHeader(range))
      const response = yield* send(request, call)
      return response.stream.pipe(
        Stream.mapError(connection(call)),
        Stream.timeoutFail(timeout(call, "stream idle"), client.timeout)
      )
    }))

  const write: FsBackend["write"] = <E>(
    id: string,
    path: string,
    workingDir: string,
    content: Uint8Array | Stream.Stream<Uint8Array, E>,
    options: { readonly mode: number | undefined; readonly mkdirParents: boolean }
  ) =>
    Effect.gen(function*() {
      if (!(yield* hasFs)) {
        if (options.mode !== undefined) {
          return yield* new HeyoError.Unsupported({ feature, message: `${client.baseUrl} cannot set a file's mode: it lacks heyod's "fs" extension` })
        }
        const bytes = content instanceof Uint8Array ? content : yield* collect(content, maxFallbackBytes)
        if (bytes === undefined) {
          return yield* new HeyoError.Unsupported({
            feature,
            message: `${client.baseUrl} lacks heyod's "fs" extension: a streamed write above ${maxFallbackBytes / 1024 / 1024} MiB would have to be held in memory`
          })
        }
        const body = yield* encode(
          HeyoFiles.WriteFileRequest,
          new HeyoFiles.WriteFileRequest({ filePath: path, mountPath: workingDir, content: bytes }, true)
        )
        return yield* client.execute({ method: "POST", path: Http.path`/sandbox/${id}/write-file`, body })
      }
      const call = `PUT ${route(id, "write")}`
      const params: Record<string, string> = { path, workingDir, mkdirParents: options.mkdirParents ? "true" : "false" }
      if (options.mode !== undefined) params["mode"] = modeString(options.mode)
      const base = HttpClientRequest.put(route(id, "write")).pipe(HttpClientRequest.setUrlParams(params))
      // The caller's stream failing surfaces as its own error, not as a broken connection.
      let failed: Option.Option<E> = Option.none()
      const request = content instanceof Uint8Array
        ? HttpClientRequest.bodyUint8Array(base, content, "application/octet-stream")
        : HttpClientRequest.bodyStream(
          base,
          content.pipe(Stream.tapError((e) => Effect.sync(() => (failed = Option.some(e))))),
          { contentType: "application/octet-stream" }
        )
      yield* json(SpritesFs.WriteResponse, request, call).pipe(
        Effect.catchAll((error): Effect.Effect<never, Error | E> => Effect.fail(Option.getOrElse(failed, (): Error | E => error)))
      )
    })

  const remove: FsBackend["remove"] = (id, path, workingDir, recursive) =>
    Effect.gen(function*() {
      yield* client.requireFeature(feature)
      const params: Record<string, string> = { path, workingDir }
      if (recursive) params["recursive"] = "true"
      yield* json(
        SpritesFs.DeleteResponse,
        HttpClientRequest.del(route(id, "delete")).pipe(HttpClientRequest.setUrlParams(params)),
        `DELETE ${route(id, "delete")}`
      )
    })

  /**
   * The wire has no mkdir (§2.10): like the official SDKs, write a marker file with
   * `mkdirParents`, then delete it. The marker's name is unique, so no user file is touched.
   */
  const mkdir: FsBackend["mkdir"] = (id, path, workingDir, options) =>
    Effect.gen(function*() {
      yield* client.requireFeature(feature)
      const target = resolvePath(workingDir, path)
      const existing = yield* list(id, target, "/", { recursive: false, pattern: undefined, stat: true }).pipe(
        Effect.map((entries) => Option.fromNullable(entries[0])),
        Effect.catchTag("FileNotFound", () => Effect.succeed(Option.none<FileInfo>()))
      )
      if (Option.isSome(existing)) {
        if (existing.value.type !== "directory") {
          return yield* new HeyoError.FileExists({ code: "EEXIST", path: target, message: `${target} exists and is not a directory` })
        }
        if (!options.recursive) {
          return yield* new HeyoError.FileExists({ code: "EEXIST", path: target, message: `${target} already exists` })
        }
      } else {
        if (!options.recursive) {
          const parent = parentOf(target)
          const info = yield* list(id, parent, "/", { recursive: false, pattern: undefined, stat: true })
          if (info[0]?.type !== "directory") {
            return yield* new HeyoError.NotADirectory({ code: "ENOTDIR", path: parent, message: `${parent} is not a directory` })
          }
        }
        const marker = `${target === "/" ? "" : target}/.heyo-mkdir-${Math.random().toString(36).slice(2)}`
        yield* write<never>(id, marker, "/", new Uint8Array(0), { mode: undefined, mkdirParents: true })
        yield* remove(id, marker, "/", false)
      }
      if (options.mode !== undefined) {
        yield* post(SpritesFs.ChmodResponse, id, "chmod", { path: target, workingDir: "/", mode: modeString(options.mode) })
      }
    })

  const watch: FsBackend["watch"] = (id, paths, workingDir, recursive) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      yield* client.requireFeature(feature)
      const socket = yield* client.webSocket({ path: route(id, "watch") })
      yield* socket.send(JSON.stringify({ type: "subscribe", paths, recursive, workingDir }))
      return socket.messages.pipe(
        Stream.filterMap((message) => typeof message === "string" ? decodeWatchMessage(message) : Option.none()),
        Stream.mapEffect((message): Effect.Effect<Option.Option<FsEvent>, Error> => {
          switch (message.type) {
            case "subscribed":
              return Effect.succeed(Option.none())
            case "error":
              return Effect.fail(watchFailure(message.message, paths[0] ?? ""))
            case "event":
              return Effect.succeed(Option.some(
                new FsEvent({
                  kind: message.event,
                  path: message.path,
                  timestamp: new Date(message.timestamp),
                  ...(message.size === undefined ? {} : { size: message.size }),
                  ...(message.isDir === undefined ? {} : { isDir: message.isDir })
                })
              ))
          }
        }),
        Stream.filterMap((event) => event)
      )
    }))

  return {
    readStream,
    write,
    list,
    mkdir,
    remove,
    rename: (id, from, to, workingDir) =>
      Effect.asVoid(post(SpritesFs.RenameResponse, id, "rename", { source: from, dest: to, workingDir })),
    copy: (id, from, to, workingDir, options) =>
      Effect.asVoid(post(SpritesFs.CopyResponse, id, "copy", { source: from, dest: to, workingDir, ...options })),
    chmod: (id, path, workingDir, mode, recursive) =>
      Effect.asVoid(post(SpritesFs.ChmodResponse, id, "chmod", { path, workingDir, mode: modeString(mode), recursive })),
    chown: (id, path, workingDir, owner) =>
      Effect.asVoid(post(SpritesFs.ChownResponse, id, "chown", { path, workingDir, ...owner })),
    watch
  }
}

const rangeHeader = (range: Range) => `bytes=${range.start}-${range.end === undefined ? "" : range.end}`

/** The whole stream, or undefined once it passes `max` bytes. */
const collect = <E>(stream: Stream.Stream<Uint8Array, E>, max: number) =>
  Effect.gen(function*() {
    let size = 0
    let over = false
    const chunks = yield* stream.pipe(
      Stream.takeWhile(() => !over),
      Stream.tap((chunk) =>
        Effect.sync(() => {
          size += chunk.byteLength
          over = size > max
        })
      ),
      Stream.runCollect
    )
    if (over) return undefined
    const out = new Uint8Array(size)
    let at = 0
    for (const chunk of Chunk.toReadonlyArray(chunks)) {
      out.set(chunk, at)
      at += chunk.byteLength
    }
    return out
  })
