/**
 * The transport-free part of `Files`: spans, defaults, path handling and the methods derived
 * from others (readText, stat, exists, remove's `force`). The HTTP service and the in-memory
 * fake both build on it, so they can only differ in where the bytes go.
 */
import { HeyoFiles } from "@heyo-effect/protocol"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { FileInfo } from "../FileInfo.js"
import type * as Files from "../Files.js"
import type { FsEvent } from "../FsEvent.js"
import * as HeyoError from "../HeyoError.js"

export type Error = Files.Error

/** Inclusive byte range; `end` open means "to the end of the file". */
export interface Range {
  readonly start: number
  readonly end?: number | undefined
}

/** What a transport provides. Paths are as the caller gave them, resolved against `workingDir`. */
export interface FsBackend {
  readonly readStream: (id: string, path: string, workingDir: string, range: Range | undefined) => Stream.Stream<Uint8Array, Error>
  readonly write: <E>(
    id: string,
    path: string,
    workingDir: string,
    content: Uint8Array | Stream.Stream<Uint8Array, E>,
    options: { readonly mode: number | undefined; readonly mkdirParents: boolean }
  ) => Effect.Effect<void, Error | E>
  readonly list: (
    id: string,
    path: string,
    workingDir: string,
    options: { readonly recursive: boolean; readonly pattern: string | undefined; readonly stat: boolean }
  ) => Effect.Effect<ReadonlyArray<FileInfo>, Error>
  readonly mkdir: (id: string, path: string, workingDir: string, options: { readonly recursive: boolean; readonly mode: number | undefined }) => Effect.Effect<void, Error>
  readonly remove: (id: string, path: string, workingDir: string, recursive: boolean) => Effect.Effect<void, Error>
  readonly rename: (id: string, from: string, to: string, workingDir: string) => Effect.Effect<void, Error>
  readonly copy: (
    id: string,
    from: string,
    to: string,
    workingDir: string,
    options: { readonly recursive: boolean; readonly preserveAttrs: boolean }
  ) => Effect.Effect<void, Error>
  readonly chmod: (id: string, path: string, workingDir: string, mode: number, recursive: boolean) => Effect.Effect<void, Error>
  readonly chown: (
    id: string,
    path: string,
    workingDir: string,
    owner: { readonly uid: number | string | undefined; readonly gid: number | string | undefined; readonly recursive: boolean }
  ) => Effect.Effect<void, Error>
  readonly watch: (id: string, paths: ReadonlyArray<string>, workingDir: string, recursive: boolean) => Stream.Stream<FsEvent, Error>
}

/** `/workspace` + `a/../b.txt` = `/workspace/b.txt`; `..` never climbs above `/`. */
export const resolvePath = (base: string, path: string): string => {
  const parts: Array<string> = []
  for (const part of (path.startsWith("/") ? path : `${base}/${path}`).split("/")) {
    if (part === "..") parts.pop()
    else if (part !== "" && part !== ".") parts.push(part)
  }
  return "/" + parts.join("/")
}

export const parentOf = (path: string): string => {
  const at = path.lastIndexOf("/")
  return at <= 0 ? "/" : path.slice(0, at)
}

/** Octal digits as the wire writes modes: `0o644` -> `"0644"`. */
export const modeString = (mode: number): string => mode.toString(8).padStart(4, "0")

const invalid = (message: string) => Effect.fail(new HeyoError.InvalidArgument({ message }))

const checkMode = (mode: number | undefined) =>
  mode === undefined || (Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)
    ? Effect.void
    : invalid(`invalid mode ${mode}: permission bits between 0 and 0o7777`)

const checkPath = (path: string) =>
  path === "" || path.includes("\0") ? invalid(`invalid path ${JSON.stringify(path)}`) : Effect.void

const encoder = new TextEncoder()

const concat = (chunks: Chunk.Chunk<Uint8Array>): Uint8Array => {
  let size = 0
  for (const chunk of chunks) size += chunk.byteLength
  const out = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}

export const filesFrom = (backend: FsBackend): Files.Service => {
  const dir = (options: Files.FileOptions | undefined) => options?.mountPath ?? HeyoFiles.DefaultMountPath
  const span = (id: string, path: string) => ({ attributes: { "sandbox.id": id, "file.path": path }, captureStackTrace: false })

  const readStream = (id: string, path: string, options?: Files.ReadOptions) =>
    Stream.unwrap(Effect.as(checkPath(path), backend.readStream(id, path, dir(options), options?.range))).pipe(
      Stream.withSpan("Files.readStream", span(id, path))
    )

  const read = (id: string, path: string, options?: Files.ReadOptions) =>
    checkPath(path).pipe(
      Effect.zipRight(Stream.runCollect(backend.readStream(id, path, dir(options), options?.range))),
      Effect.map(concat),
      Effect.withSpan("Files.read", span(id, path))
    )

  const readText = (id: string, path: string, options?: Files.ReadOptions) =>
    Effect.map(read(id, path, options), (bytes) => new TextDecoder().decode(bytes)).pipe(
      Effect.withSpan("Files.readText", span(id, path))
    )

  const write = <E = never>(id: string, path: string, content: Files.Content<E>, options?: Files.WriteOptions) =>
    Effect.gen(function*() {
      yield* checkPath(path)
      yield* checkMode(options?.mode)
      const body = typeof content === "string" ? encoder.encode(content) : content
      return yield* backend.write(id, path, dir(options), body, {
        mode: options?.mode,
        mkdirParents: options?.mkdirParents ?? true
      })
    }).pipe(Effect.withSpan("Files.write", span(id, path)))

  const list = (id: string, path: string, options?: Files.ListOptions) =>
    Effect.zipRight(
      checkPath(path),
      backend.list(id, path, dir(options), { recursive: options?.recursive ?? false, pattern: options?.pattern, stat: false })
    ).pipe(Effect.withSpan("Files.list", span(id, path)))

  const stat = (id: string, path: string, options?: Files.FileOptions) =>
    Effect.zipRight(checkPath(path), backend.list(id, path, dir(options), { recursive: false, pattern: undefined, stat: true })).pipe(
      Effect.flatMap((entries) =>
        entries.length > 0
          ? Effect.succeed(entries[0]!)
          : Effect.fail(new HeyoError.FileNotFound({ code: "ENOENT", path, message: `${path}: no such file or directory` }))
      ),
      Effect.withSpan("Files.stat", span(id, path))
    )

  const exists = (id: string, path: string, options?: Files.FileOptions) =>
    stat(id, path, options).pipe(
      Effect.as(true),
      Effect.catchTag("FileNotFound", () => Effect.succeed(false)),
      Effect.withSpan("Files.exists", span(id, path))
    )

  const mkdir = (id: string, path: string, options?: Files.MkdirOptions) =>
    Effect.gen(function*() {
      yield* checkPath(path)
      yield* checkMode(options?.mode)
      return yield* backend.mkdir(id, path, dir(options), { recursive: options?.recursive ?? true, mode: options?.mode })
    }).pipe(Effect.withSpan("Files.mkdir", span(id, path)))

  const remove = (id: string, path: string, options?: Files.RemoveOptions) =>
    Effect.zipRight(checkPath(path), backend.remove(id, path, dir(options), options?.recursive ?? false)).pipe(
      (effect) => options?.force === true ? Effect.catchTag(effect, "FileNotFound", () => Effect.void) : effect,
      Effect.withSpan("Files.remove", span(id, path))
    )

  const rename = (id: string, from: string, to: string, options?: Files.FileOptions) =>
    Effect.zipRight(Effect.zipRight(checkPath(from), checkPath(to)), backend.rename(id, from, to, dir(options))).pipe(
      Effect.withSpan("Files.rename", span(id, from))
    )

  const copy = (id: string, from: string, to: string, options?: Files.CopyOptions) =>
    Effect.zipRight(
      Effect.zipRight(checkPath(from), checkPath(to)),
      backend.copy(id, from, to, dir(options), {
        recursive: options?.recursive ?? false,
        preserveAttrs: options?.preserveAttrs ?? false
      })
    ).pipe(Effect.withSpan("Files.copy", span(id, from)))

  const chmod = (id: string, path: string, mode: number, options?: Files.ChmodOptions) =>
    Effect.gen(function*() {
      yield* checkPath(path)
      yield* checkMode(mode)
      return yield* backend.chmod(id, path, dir(options), mode, options?.recursive ?? false)
    }).pipe(Effect.withSpan("Files.chmod", span(id, path)))

  const chown = (id: string, path: string, options: Files.ChownOptions) =>
    Effect.gen(function*() {
      yield* checkPath(path)
      if (options.uid === undefined && options.gid === undefined) return yield* invalid("chown needs uid or gid")
      return yield* backend.chown(id, path, dir(options), {
        uid: options.uid,
        gid: options.gid,
        recursive: options.recursive ?? false
      })
    }).pipe(Effect.withSpan("Files.chown", span(id, path)))

  const watch = (id: string, paths: string | ReadonlyArray<string>, options?: Files.WatchOptions) => {
    const list = typeof paths === "string" ? [paths] : paths
    return Stream.unwrap(
      Effect.gen(function*() {
        if (list.length === 0) return yield* invalid("watch needs at least one path")
        for (const path of list) yield* checkPath(path)
        return backend.watch(id, list, dir(options), options?.recursive ?? false)
      })
    ).pipe(Stream.withSpan("Files.watch", span(id, list.join(","))))
  }

  return { read, readText, readStream, write, list, stat, exists, mkdir, remove, rename, copy, chmod, chown, watch }
}
