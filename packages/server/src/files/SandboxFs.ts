/**
 * The engine's filesystem service: every operation of the Sprites fs routes, each one run by a
 * fresh file tool process joined into the running sandbox (mount namespace, root, user namespace,
 * cgroups) as the sandbox's root user. The kernel does the confinement: heyod never opens a
 * sandbox path on the host, so `..`, absolute paths and symlinks can only reach the sandbox's
 * own files. Reads and writes stream through the tool's pipes: memory stays bounded whatever
 * the file's size, and a slow peer slows the tool.
 */
import { SpritesFs } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Conflict, HostFailure, type SandboxNotFound } from "../engine/EngineError.js"
import { Sandboxes } from "../engine/Sandboxes.js"
import { Runtime } from "../runtime/Runtime.js"
import { FsFailed } from "./FsFailed.js"
import * as FsTool from "./FsTool.js"

export type Failure = FsFailed | Conflict | SandboxNotFound | HostFailure

/** A byte range: `start`..`end` inclusive (either may be open), or the last `suffix` bytes. */
export type Range =
  | { readonly start?: number | undefined; readonly end?: number | undefined }
  | { readonly suffix: number }

export interface ReadRequest {
  readonly path: string
  readonly workingDir: string
  readonly range?: Range | undefined
}

/** What a read learned before the first byte: size is null for non-regular files (pipes, /proc). */
export interface ReadInfo {
  readonly path: string
  readonly size: number | null
  readonly start: number
  readonly length: number | null
  readonly mode: string
  readonly modTime: string
}

export interface WriteRequest {
  readonly path: string
  readonly workingDir: string
  readonly mode?: string | undefined
  readonly mkdirParents: boolean
}

export interface ListRequest {
  readonly path: string
  readonly workingDir: string
  readonly recursive: boolean
  readonly pattern?: string | undefined
  /** heyod's extension: the path itself, even a directory. */
  readonly stat: boolean
}

export interface DeleteRequest {
  readonly path: string
  readonly workingDir: string
  readonly recursive: boolean
}

export type WatchMessage = SpritesFs.WatchEvent | SpritesFs.WatchError

export interface Service {
  /** The header and the bytes; the tool lives (and the file stays open) until the Scope closes. */
  readonly read: (
    id: string,
    request: ReadRequest
  ) => Effect.Effect<{ readonly info: ReadInfo; readonly body: Stream.Stream<Uint8Array> }, Failure, Scope.Scope>
  /** Streams `body` to the file as it is pulled; a failing body fails with its error (the file stays partial). */
  readonly write: <E>(
    id: string,
    request: WriteRequest,
    body: Stream.Stream<Uint8Array, E>
  ) => Effect.Effect<SpritesFs.WriteResponse, Failure | E>
  readonly list: (id: string, request: ListRequest) => Effect.Effect<SpritesFs.ListResponse, Failure>
  readonly remove: (id: string, request: DeleteRequest) => Effect.Effect<SpritesFs.DeleteResponse, Failure>
  readonly rename: (id: string, request: SpritesFs.RenameRequest) => Effect.Effect<SpritesFs.RenameResponse, Failure>
  readonly copy: (id: string, request: SpritesFs.CopyRequest) => Effect.Effect<SpritesFs.CopyResponse, Failure>
  readonly chmod: (id: string, request: SpritesFs.ChmodRequest) => Effect.Effect<SpritesFs.ChmodResponse, Failure>
  readonly chown: (id: string, request: SpritesFs.ChownRequest) => Effect.Effect<SpritesFs.ChownResponse, Failure>
  /** The paths watched and the events; the watch lasts until the Scope closes. */
  readonly watch: (
    id: string,
    request: SpritesFs.WatchSubscribe
  ) => Effect.Effect<
    { readonly paths: ReadonlyArray<string>; readonly messages: Stream.Stream<WatchMessage> },
    Failure,
    Scope.Scope
  >
}

export class SandboxFs extends Context.Tag("@heyo-effect/server/SandboxFs")<SandboxFs, Service>() {}

const ReadHeader = Schema.Struct({
  ok: Schema.Literal(true),
  path: Schema.String,
  size: Schema.NullOr(Schema.NonNegativeInt),
  start: Schema.NonNegativeInt,
  length: Schema.NullOr(Schema.NonNegativeInt),
  mode: Schema.String,
  modTime: Schema.String
})

const WatchHeader = Schema.Struct({ ok: Schema.Literal(true), paths: Schema.Array(Schema.String) })

const decodeWatchMessage = Schema.decodeUnknownOption(Schema.parseJson(Schema.Union(SpritesFs.WatchEvent, SpritesFs.WatchError)))

export const make = Effect.gen(function*() {
  const runtime = yield* Runtime
  const sandboxes = yield* Sandboxes

  /** Spawns the tool for `operation` in the running sandbox, for the Scope's lifetime. */
  const spawn = (id: string, operation: Readonly<Record<string, unknown>>, stdin: boolean) =>
    Effect.gen(function*() {
      const record = yield* sandboxes.get(id)
      if (record.status !== "running") {
        return yield* new Conflict({ message: `sandbox ${id} is ${record.status}; it must be running` })
      }
      return yield* runtime.spawn(id, { argv: FsTool.argv(operation), cwd: "/", env: FsTool.env, stdin }).pipe(
        Effect.catchTags({
          RuntimeError: (e) => Effect.fail(new HostFailure({ message: e.message })),
          SandboxNotRunning: (e) => Effect.fail(new Conflict({ message: e.message }))
        })
      )
    })

  /** A tool that said nothing usable: the sandbox stopping under it, or a server error. */
  const toolFailure = (id: string) => (e: FsTool.ToolFailed) =>
    runtime.isRunning(id).pipe(
      Effect.flatMap((up) =>
        Effect.fail(up ? new HostFailure({ message: e.message }) : new Conflict({ message: `sandbox ${id} stopped during the operation` }))
      )
    )

  /** One operation whose whole answer is its header (its `ok` is dropped by the decoding). */
  const simple = <A, I>(id: string, operation: Readonly<Record<string, unknown>>, schema: Schema.Schema<A, I>) =>
    Effect.gen(function*() {
      const process = yield* spawn(id, operation, false)
      const { value } = yield* FsTool.header(process, schema).pipe(Effect.catchTag("ToolFailed", toolFailure(id)))
      return value
    }).pipe(Effect.scoped)

  const read: Service["read"] = (id, request) =>
    Effect.gen(function*() {
      const process = yield* spawn(id, { op: "read", path: request.path, workingDir: request.workingDir, range: request.range }, false)
      const { rest, value } = yield* FsTool.header(process, ReadHeader, FsTool.maxEventBytes).pipe(
        Effect.catchTag("ToolFailed", toolFailure(id))
      )
      const info: ReadInfo = {
        path: value.path,
        size: value.size,
        start: value.start,
        length: value.length,
        mode: value.mode,
        modTime: value.modTime
      }
      // A tampered tool could send more than it announced: never more than the promised length.
      const body = value.length === null ? rest : rest.pipe(takeBytes(value.length))
      return { info, body }
    })

  const write: Service["write"] = <E>(id: string, request: WriteRequest, body: Stream.Stream<Uint8Array, E>) =>
    Effect.gen(function*() {
      const process = yield* spawn(id, {
        op: "write",
        path: request.path,
        workingDir: request.workingDir,
        mode: request.mode,
        mkdirParents: request.mkdirParents
      }, true)
      const feed = body.pipe(
        Stream.runForEach((chunk) => process.write(chunk)),
        Effect.zipRight(process.endStdin)
      )
      const feeder = yield* Effect.fork(feed)
      // The tool answers early when it cannot open the file: the rest of the body is not sent.
      const answer = FsTool.header(process, SpritesFs.WriteResponse).pipe(
        Effect.catchTag("ToolFailed", toolFailure(id))
      )
      const result = yield* Effect.raceFirst(
        answer,
        Fiber.join(feeder).pipe(Effect.zipRight(Effect.never))
      )
      yield* Fiber.interrupt(feeder)
      return result.value
    }).pipe(Effect.scoped)

  const list: Service["list"] = (id, request) =>
    simple(id, { op: "list", ...request }, SpritesFs.ListResponse)

  const remove: Service["remove"] = (id, request) =>
    simple(id, { op: "delete", ...request }, SpritesFs.DeleteResponse)

  const rename: Service["rename"] = (id, request) =>
    simple(id, { op: "rename", source: request.source, dest: request.dest, workingDir: request.workingDir }, SpritesFs.RenameResponse)

  const copy: Service["copy"] = (id, request) =>
    simple(id, {
      op: "copy",
      source: request.source,
      dest: request.dest,
      workingDir: request.workingDir,
      recursive: request.recursive,
      preserveAttrs: request.preserveAttrs
    }, SpritesFs.CopyResponse)

  const chmod: Service["chmod"] = (id, request) =>
    simple(id, { op: "chmod", path: request.path, workingDir: request.workingDir, mode: request.mode, recursive: request.recursive }, SpritesFs.ChmodResponse)

  const chown: Service["chown"] = (id, request) =>
    simple(id, {
      op: "chown",
      path: request.path,
      workingDir: request.workingDir,
      uid: request.uid,
      gid: request.gid,
      recursive: request.recursive
    }, SpritesFs.ChownResponse)

  const watch: Service["watch"] = (id, request) =>
    Effect.gen(function*() {
      // stdin stays open: it closing (heyod gone) ends the watch
      const process = yield* spawn(id, {
        op: "watch",
        paths: request.paths,
        recursive: request.recursive,
        workingDir: request.workingDir
      }, true)
      const { rest, value } = yield* FsTool.header(process, WatchHeader, FsTool.maxEventBytes).pipe(
        Effect.catchTag("ToolFailed", toolFailure(id))
      )
      const messages = FsTool.lines(rest).pipe(Stream.filterMap((line) => decodeWatchMessage(line)))
      return { paths: value.paths, messages }
    })

  return SandboxFs.of({ read, write, list, remove, rename, copy, chmod, chown, watch })
})

/** The first `n` bytes of a stream. */
const takeBytes = (n: number) => <E, R>(stream: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.suspend(() => {
    let left = n
    return stream.pipe(
      Stream.takeWhile(() => left > 0),
      Stream.map((chunk) => {
        const part = chunk.byteLength <= left ? chunk : chunk.subarray(0, left)
        left -= part.byteLength
        return part
      })
    )
  })

export const layer: Layer.Layer<SandboxFs, never, Runtime | Sandboxes> = Layer.effect(SandboxFs, make)
