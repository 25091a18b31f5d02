/**
 * Files in a sandbox. Paths are relative to `mountPath` (default `/workspace`) unless absolute;
 * either way they resolve inside the sandbox: on heyod every operation runs in the sandbox's own
 * mount namespace as its user, so `..` and symlinks cannot reach the host.
 *
 * On a server with heyod's `fs` extension (`GET /capabilities`), everything goes through the
 * Sprites-dialect fs routes, addressed by sandbox id: reads and writes are streamed, so a 1 GiB
 * file never sits in memory on either side, and failures are typed per errno (`FileNotFound`,
 * `NotADirectory`, `PermissionDenied`, ...). Elsewhere (the Heyo cloud) `read`, `readText`,
 * `readStream` and `write` use the base64 routes `POST /sandbox/:id/read-file` and `/write-file`,
 * which hold the whole file and suit small ones (the cloud's 1 MB body limit makes writes above
 * about 768 KiB fail with `Api{status: 413}`); the other methods fail with `Unsupported`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { FileInfo } from "./FileInfo.js"
import type { FsEvent } from "./FsEvent.js"
import { HeyoClient } from "./HeyoClient.js"
import type * as HeyoError from "./HeyoError.js"
import { httpFsBackend } from "./internal/fsHttp.js"
import { filesFrom } from "./internal/fsService.js"

/** What a file operation can fail with. @since 0.1.0 */
export type Error = HeyoError.HttpError | HeyoError.FsError | HeyoError.Unsupported

/** @since 0.1.0 */
export interface FileOptions {
  /** The directory relative paths start from; default `/workspace`. */
  readonly mountPath?: string | undefined
}

/** @since 0.1.0 */
export interface ReadOptions extends FileOptions {
  /** Only bytes `start` to `end` (inclusive; `end` omitted: to the end of the file). */
  readonly range?: { readonly start: number; readonly end?: number | undefined } | undefined
}

/** A string is written as UTF-8; a Stream is sent as it is pulled. @since 0.1.0 */
export type Content<E = never> = string | Uint8Array | Stream.Stream<Uint8Array, E>

/** @since 0.1.0 */
export interface WriteOptions extends FileOptions {
  /** Permission bits, e.g. `0o600`; default `0o644` for a new file, unchanged for an existing one. */
  readonly mode?: number | undefined
  /** Create missing parent directories; default true. */
  readonly mkdirParents?: boolean | undefined
}

/** @since 0.1.0 */
export interface ListOptions extends FileOptions {
  /** Everything below the directory, not only its entries. */
  readonly recursive?: boolean | undefined
  /** A glob on entry names (`*.ts`, `[a-c]?`). */
  readonly pattern?: string | undefined
}

/** @since 0.1.0 */
export interface MkdirOptions extends FileOptions {
  /** Create missing parents, and succeed if it exists; default true. */
  readonly recursive?: boolean | undefined
  readonly mode?: number | undefined
}

/** @since 0.1.0 */
export interface RemoveOptions extends FileOptions {
  /** Remove a directory with everything in it (symlinks are removed, never followed). */
  readonly recursive?: boolean | undefined
  /** A missing path is not an error. */
  readonly force?: boolean | undefined
}

/** @since 0.1.0 */
export interface CopyOptions extends FileOptions {
  /** Needed to copy a directory. */
  readonly recursive?: boolean | undefined
  /** Keep owner and times (the mode is always kept). */
  readonly preserveAttrs?: boolean | undefined
}

/** @since 0.1.0 */
export interface ChmodOptions extends FileOptions {
  readonly recursive?: boolean | undefined
}

/** Ids, or names from the sandbox's own /etc/passwd and /etc/group. @since 0.1.0 */
export interface ChownOptions extends FileOptions {
  readonly uid?: number | string | undefined
  readonly gid?: number | string | undefined
  readonly recursive?: boolean | undefined
}

/** @since 0.1.0 */
export interface WatchOptions extends FileOptions {
  /** Also watch every directory below (and those created later). */
  readonly recursive?: boolean | undefined
}

/** @since 0.1.0 */
export interface Service {
  readonly read: (sandboxId: string, path: string, options?: ReadOptions | undefined) => Effect.Effect<Uint8Array, Error>
  /** `read`, decoded as UTF-8. */
  readonly readText: (sandboxId: string, path: string, options?: ReadOptions | undefined) => Effect.Effect<string, Error>
  /** The file's bytes as they arrive: memory stays bounded whatever its size. */
  readonly readStream: (sandboxId: string, path: string, options?: ReadOptions | undefined) => Stream.Stream<Uint8Array, Error>
  /** Replaces the file's content; a Stream's failure fails the write (the file may be left partial). */
  readonly write: <E = never>(
    sandboxId: string,
    path: string,
    content: Content<E>,
    options?: WriteOptions | undefined
  ) => Effect.Effect<void, Error | E>
  /** A directory's entries (sorted), or the path itself when it is not a directory. */
  readonly list: (sandboxId: string, path: string, options?: ListOptions | undefined) => Effect.Effect<ReadonlyArray<FileInfo>, Error>
  /** The path itself (a symlink is not followed). */
  readonly stat: (sandboxId: string, path: string, options?: FileOptions | undefined) => Effect.Effect<FileInfo, Error>
  readonly exists: (sandboxId: string, path: string, options?: FileOptions | undefined) => Effect.Effect<boolean, Error>
  readonly mkdir: (sandboxId: string, path: string, options?: MkdirOptions | undefined) => Effect.Effect<void, Error>
  readonly remove: (sandboxId: string, path: string, options?: RemoveOptions | undefined) => Effect.Effect<void, Error>
  readonly rename: (sandboxId: string, from: string, to: string, options?: FileOptions | undefined) => Effect.Effect<void, Error>
  readonly copy: (sandboxId: string, from: string, to: string, options?: CopyOptions | undefined) => Effect.Effect<void, Error>
  readonly chmod: (sandboxId: string, path: string, mode: number, options?: ChmodOptions | undefined) => Effect.Effect<void, Error>
  readonly chown: (sandboxId: string, path: string, options: ChownOptions) => Effect.Effect<void, Error>
  /**
   * Changes under the paths, as they happen. The watch lives while the stream is consumed:
   * interrupting the consumer (or closing its Scope) ends it on the server.
   */
  readonly watch: (
    sandboxId: string,
    paths: string | ReadonlyArray<string>,
    options?: WatchOptions | undefined
  ) => Stream.Stream<FsEvent, Error>
}

/** @since 0.1.0 */
export class Files extends Context.Tag("@heyo-effect/sdk/Files")<Files, Service>() {}

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.map(HeyoClient, (client) => filesFrom(httpFsBackend(client)))

/** @since 0.1.0 */
export const layer: Layer.Layer<Files, never, HeyoClient> = Layer.effect(Files, make)

/** @since 0.1.0 */
export const read = (sandboxId: string, path: string, options?: ReadOptions) =>
  Effect.flatMap(Files, (f) => f.read(sandboxId, path, options))

/** @since 0.1.0 */
export const readText = (sandboxId: string, path: string, options?: ReadOptions) =>
  Effect.flatMap(Files, (f) => f.readText(sandboxId, path, options))

/** @since 0.1.0 */
export const readStream = (sandboxId: string, path: string, options?: ReadOptions) =>
  Stream.unwrap(Effect.map(Files, (f) => f.readStream(sandboxId, path, options)))

/** @since 0.1.0 */
export const write = <E = never>(sandboxId: string, path: string, content: Content<E>, options?: WriteOptions) =>
  Effect.flatMap(Files, (f) => f.write(sandboxId, path, content, options))

/** @since 0.1.0 */
export const list = (sandboxId: string, path: string, options?: ListOptions) =>
  Effect.flatMap(Files, (f) => f.list(sandboxId, path, options))

/** @since 0.1.0 */
export const stat = (sandboxId: string, path: string, options?: FileOptions) =>
  Effect.flatMap(Files, (f) => f.stat(sandboxId, path, options))

/** @since 0.1.0 */
export const exists = (sandboxId: string, path: string, options?: FileOptions) =>
  Effect.flatMap(Files, (f) => f.exists(sandboxId, path, options))

/** @since 0.1.0 */
export const mkdir = (sandboxId: string, path: string, options?: MkdirOptions) =>
  Effect.flatMap(Files, (f) => f.mkdir(sandboxId, path, options))

/** @since 0.1.0 */
export const remove = (sandboxId: string, path: string, options?: RemoveOptions) =>
  Effect.flatMap(Files, (f) => f.remove(sandboxId, path, options))

/** @since 0.1.0 */
export const rename = (sandboxId: string, from: string, to: string, options?: FileOptions) =>
  Effect.flatMap(Files, (f) => f.rename(sandboxId, from, to, options))

/** @since 0.1.0 */
export const copy = (sandboxId: string, from: string, to: string, options?: CopyOptions) =>
  Effect.flatMap(Files, (f) => f.copy(sandboxId, from, to, options))

/** @since 0.1.0 */
export const chmod = (sandboxId: string, path: string, mode: number, options?: ChmodOptions) =>
  Effect.flatMap(Files, (f) => f.chmod(sandboxId, path, mode, options))

/** @since 0.1.0 */
export const chown = (sandboxId: string, path: string, options: ChownOptions) =>
  Effect.flatMap(Files, (f) => f.chown(sandboxId, path, options))

/** @since 0.1.0 */
export const watch = (sandboxId: string, paths: string | ReadonlyArray<string>, options?: WatchOptions) =>
  Stream.unwrap(Effect.map(Files, (f) => f.watch(sandboxId, paths, options)))
