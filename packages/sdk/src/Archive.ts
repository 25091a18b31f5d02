/**
 * Archives (reference/heyo-api.md §2.4): a local directory packed as tar+gzip, uploaded to a
 * presigned URL, finalized, then used to seed a sandbox (`Sandbox.create({ archiveId })`) or
 * replace one of its paths (`Sandbox.replaceMount`).
 *
 * `fromDir` streams the directory through `tar` (isaacs' node-tar: pax headers for long names,
 * readable by GNU tar) into a temporary file, never into memory, then PUTs it with its length
 * (object stores refuse chunked uploads) and no Authorization header: the URL is the credential.
 * Entries are named under the mount path (`workspace/src/a.ts` for `/workspace`), directories
 * first in sorted order; symlinks are skipped, as are the default excludes (build output,
 * dependencies, VCS data: `DEFAULT_EXCLUDES`) unless `noIgnore` is set.
 *
 * Needs `HttpClient.HttpClient` besides `HeyoClient` (the upload goes to a URL outside the
 * client's base, without its key), and Node's `fs`.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HeyoArchive } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { pipeline } from "node:stream/promises"
import * as tar from "tar"
import { HeyoClient, path } from "./HeyoClient.js"
import * as HeyoError from "./HeyoError.js"
import { describeCause } from "./internal/http.js"
import { encode } from "./internal/services.js"

/** Directory names left out wherever they occur (reference §2.4). @since 0.1.0 */
export const DEFAULT_EXCLUDES: ReadonlyArray<string> = HeyoArchive.DefaultExcludes

/** @since 0.1.0 */
export interface FromDirOptions {
  /** A name to find it by; default none. */
  readonly name?: string | undefined
  /** Where its files go in a sandbox; default `/workspace`. */
  readonly mountPath?: string | undefined
  /** Keep the default excludes in (node_modules, .git, dist, ...). */
  readonly noIgnore?: boolean | undefined
  /** More names to leave out: a bare name matches at any depth, `a/b` a path from the root. */
  readonly extraExcludes?: ReadonlyArray<string> | undefined
}

/** @since 0.1.0 */
export class ArchiveResult extends Schema.Class<ArchiveResult>("ArchiveResult")({
  id: Schema.String,
  sizeBytes: Schema.Number,
  createdAt: Schema.String
}) {}

/** @since 0.1.0 */
export const ArchiveInfo = HeyoArchive.ArchiveInfo
/** @since 0.1.0 */
export type ArchiveInfo = HeyoArchive.ArchiveInfo

/** The local directory could not be read or packed. @since 0.1.0 */
export class ArchiveSourceError extends Schema.TaggedError<ArchiveSourceError>()("ArchiveSourceError", {
  path: Schema.String,
  message: Schema.String
}) {
  readonly [HeyoError.TypeId]: HeyoError.TypeId = HeyoError.TypeId
}

/** @since 0.1.0 */
export interface Service {
  /** Packs `localPath`, uploads and finalizes it. */
  readonly fromDir: (
    localPath: string,
    options?: FromDirOptions
  ) => Effect.Effect<ArchiveResult, HeyoError.HttpError | ArchiveSourceError>
  /**
   * Uploads a tar.gz you already have, as a stream of `sizeBytes` bytes; `label` is the
   * finalize call's `sandbox_id` (a free label).
   */
  readonly upload: <E>(
    content: Stream.Stream<Uint8Array, E>,
    options: { readonly sizeBytes: number; readonly label: string; readonly name?: string | undefined }
  ) => Effect.Effect<ArchiveResult, HeyoError.HttpError | E>
  readonly list: () => Effect.Effect<ReadonlyArray<ArchiveInfo>, HeyoError.HttpError>
  /** The archive's tar.gz bytes. */
  readonly download: (archiveId: string) => Stream.Stream<Uint8Array, HeyoError.HttpError>
  /** An unknown archive is success (already gone). */
  readonly delete: (archiveId: string) => Effect.Effect<void, Exclude<HeyoError.HttpError, HeyoError.NotFound>>
}

/** @since 0.1.0 */
export class Archive extends Context.Tag("@heyo-effect/sdk/Archive")<Archive, Service>() {}

/** Every directory and regular file to pack, relative to `root`, sorted, directories first. */
const collect = (root: string, options: FromDirOptions) => {
  const names = new Set([...(options.noIgnore === true ? [] : DEFAULT_EXCLUDES)])
  const paths = new Set<string>()
  for (const exclude of options.extraExcludes ?? []) {
    const clean = exclude.replace(/^\.?\/+/, "").replace(/\/+$/, "")
    if (clean.includes("/")) paths.add(clean)
    else if (clean !== "") names.add(clean)
  }
  const dirs: Array<string> = []
  const files: Array<string> = []
  const walk = (rel: string) => {
    const entries = fs.readdirSync(nodePath.join(root, rel), { withFileTypes: true })
    for (const entry of entries) {
      const child = rel === "" ? entry.name : `${rel}/${entry.name}`
      if (names.has(entry.name) || paths.has(child)) continue
      if (entry.isDirectory()) {
        dirs.push(child)
        walk(child)
      } else if (entry.isFile()) {
        files.push(child)
      }
      // symlinks, sockets, devices: skipped (a symlink could point anywhere on this machine)
    }
  }
  walk("")
  return [...dirs.sort(), ...files.sort()]
}

const sourceError = (where: string) => (error: unknown) =>
  new ArchiveSourceError({ path: where, message: `${where}: ${error instanceof Error ? error.message : String(error)}` })

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient | HttpClient.HttpClient> = Effect.gen(function*() {
  const client = yield* HeyoClient
  const http = yield* HttpClient.HttpClient

  const put = <E>(url: string, content: Stream.Stream<Uint8Array, E>, sizeBytes: number) =>
    http.execute(
      HttpClientRequest.put(url).pipe(
        HttpClientRequest.bodyStream(content, { contentType: "application/gzip", contentLength: sizeBytes })
      )
    ).pipe(
      Effect.timeout(client.timeout),
      Effect.catchTags({
        TimeoutException: () =>
          Effect.fail(new HeyoError.Timeout({ message: "archive upload got no response", timeout: client.timeout })),
        RequestError: (e) =>
          e.reason === "Transport"
            ? Effect.fail(new HeyoError.Connection({ message: `archive upload failed: ${describeCause(e.cause ?? e)}`, cause: e }))
            // the request body stream failed: the caller's own error
            : Effect.fail(e.cause as E),
        ResponseError: (e) => Effect.fail(new HeyoError.Connection({ message: `archive upload failed: ${e.message}`, cause: e }))
      }),
      Effect.flatMap((response) =>
        response.status >= 200 && response.status < 300
          ? Effect.void
          : response.text.pipe(
            Effect.orElseSucceed(() => ""),
            Effect.flatMap((text) =>
              Effect.fail(new HeyoError.Api({ status: response.status, message: `archive upload failed: ${text.trim() || response.status}` }))
            )
          )
      )
    )

  const upload = Effect.fn("Archive.upload")(function*<E>(
    content: Stream.Stream<Uint8Array, E>,
    options: { readonly sizeBytes: number; readonly label: string; readonly name?: string | undefined }
  ) {
    const presigned = yield* client.json(HeyoArchive.PresignResponse, { method: "POST", path: "/sandbox-archives/presign" })
    yield* Effect.annotateCurrentSpan("archive.id", presigned.archiveId)
    yield* put(presigned.uploadUrl, content, options.sizeBytes)
    const body = yield* encode(HeyoArchive.FinalizeBody, new HeyoArchive.FinalizeBody({ sandboxId: options.label, name: options.name }))
    const done = yield* client.json(HeyoArchive.FinalizeResponse, {
      method: "POST",
      path: path`/sandbox-archives/${presigned.archiveId}/finalize`,
      body
    })
    if (done.sizeBytes === 0) {
      return yield* new HeyoError.Api({ status: 200, message: `archive ${done.id} is empty on the server: the upload did not land` })
    }
    return new ArchiveResult({ id: done.id, sizeBytes: done.sizeBytes, createdAt: done.createdAt })
  })

  const fromDir = Effect.fn("Archive.fromDir")(function*(localPath: string, options?: FromDirOptions) {
    const o = options ?? {}
    const root = nodePath.resolve(localPath)
    const stat = yield* Effect.try({ try: () => fs.statSync(root), catch: sourceError(root) })
    if (!stat.isDirectory()) return yield* new ArchiveSourceError({ path: root, message: `${root} is not a directory` })
    const mountPath = o.mountPath ?? HeyoArchive.DefaultSandboxPath
    const prefix = mountPath.replace(/^\/+/, "").replace(/\/+$/, "")
    const entries = yield* Effect.try({ try: () => collect(root, o), catch: sourceError(root) })
    // Spooled to a private temporary file: the upload needs its length up front.
    const spool = yield* Effect.acquireRelease(
      Effect.try({
        try: () => fs.mkdtempSync(nodePath.join(os.tmpdir(), "heyo-archive-")),
        catch: sourceError(os.tmpdir())
      }),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    const file = nodePath.join(spool, "archive.tar.gz")
    yield* Effect.tryPromise({
      try: () =>
        pipeline(
          tar.create({ gzip: true, cwd: root, portable: true, noDirRecurse: true, ...(prefix === "" ? {} : { prefix }) }, entries),
          fs.createWriteStream(file, { mode: 0o600 })
        ),
      catch: sourceError(root)
    })
    const sizeBytes = fs.statSync(file).size
    return yield* upload(
      Stream.fromAsyncIterable(fs.createReadStream(file, { highWaterMark: 256 * 1024 }), sourceError(file)).pipe(
        Stream.map((chunk) => chunk as Uint8Array)
      ),
      { sizeBytes, label: nodePath.basename(root), name: o.name }
    )
  }, Effect.scoped)

  return {
    fromDir,
    upload,
    list: Effect.fn("Archive.list")(function*() {
      return (yield* client.json(HeyoArchive.ArchiveList, { method: "GET", path: "/sandbox-archives" })).archives
    }),
    download: (archiveId) =>
      client.stream({ method: "GET", path: path`/sandbox-archives/${archiveId}` }).pipe(
        Stream.withSpan("Archive.download", { attributes: { "archive.id": archiveId }, captureStackTrace: false })
      ),
    delete: Effect.fn("Archive.delete")(function*(archiveId: string) {
      yield* client.execute({ method: "DELETE", path: path`/sandbox-archives/${archiveId}` }).pipe(
        Effect.catchTag("NotFound", () => Effect.void)
      )
    })
  }
})

/** @since 0.1.0 */
export const layer: Layer.Layer<Archive, never, HeyoClient | HttpClient.HttpClient> = Layer.effect(Archive, make)

/** @since 0.1.0 */
export const fromDir = (localPath: string, options?: FromDirOptions) =>
  Effect.flatMap(Archive, (a) => a.fromDir(localPath, options))
/** @since 0.1.0 */
export const list = () => Effect.flatMap(Archive, (a) => a.list())
/** @since 0.1.0 */
export const download = (archiveId: string) => Stream.unwrap(Effect.map(Archive, (a) => a.download(archiveId)))
/** @since 0.1.0 */
export const remove = (archiveId: string) => Effect.flatMap(Archive, (a) => a.delete(archiveId))
