/**
 * Heyo archives (reference/heyo-api.md §2.4) on heyod: a presigned upload that points at heyod
 * itself, a finalize that checks the upload is a tar.gz and records where its files belong, a
 * listing, a download, a delete, and `replace-mount`, which empties a path of a running sandbox
 * and unpacks an archive there (inside the sandbox: ArchiveUnpack.ts).
 *
 * The upload URL carries its own credential, as an object store's presigned URL does: an
 * HMAC-SHA256 over the archive id and the expiry, keyed by a secret kept in the data dir (so URLs
 * handed out before a restart stay valid until they expire). The body streams to a `.part`
 * file, renamed once complete: memory stays flat whatever the size, and an interrupted upload
 * never looks finished.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as HostCommand from "../runtime/HostCommand.js"
import { which } from "../runtime/Prerequisites.js"
import { Runtime } from "../runtime/Runtime.js"
import { ServerConfig } from "../ServerConfig.js"
import { Store } from "../state/Store.js"
import * as ArchiveStore from "./ArchiveStore.js"
import { commonPrefix, destination, stripFor, unpack } from "./ArchiveUnpack.js"
import { Conflict, HostFailure, InvalidRequest, type SandboxNotFound } from "./EngineError.js"
import { Sandboxes } from "./Sandboxes.js"

export class ArchiveNotFound extends Schema.TaggedError<ArchiveNotFound>()("ArchiveNotFound", {
  archiveId: Schema.String
}) {
  override get message() {
    return `archive ${this.archiveId} not found`
  }
}

/** The presigned upload URL was altered, is for another archive, or has expired. */
export class UploadDenied extends Schema.TaggedError<UploadDenied>()("UploadDenied", {
  message: Schema.String
}) {}

/** How long an upload URL stays valid. */
export const uploadTtlSeconds = 3600
/** Largest archive accepted: a runaway upload must not fill the host's disk. */
export const maxArchiveBytes = 16 * 1024 * 1024 * 1024

export interface Presigned {
  readonly archiveId: string
  readonly uploadUrl: string
  readonly expiresInSecs: number
}

export interface Service {
  /** A new pending archive and its upload URL under `baseUrl` (the address the client used). */
  readonly presign: (baseUrl: string) => Effect.Effect<Presigned>
  /** Checks the URL's credential, then streams `body` to disk. */
  readonly upload: (
    archiveId: string,
    credential: { readonly expires: string | undefined; readonly signature: string | undefined },
    body: Readable
  ) => Effect.Effect<{ readonly sizeBytes: number }, UploadDenied | ArchiveNotFound | Conflict | HostFailure | InvalidRequest>
  readonly finalize: (
    archiveId: string,
    label: string,
    name: string | undefined
  ) => Effect.Effect<ArchiveStore.ArchiveRecord, ArchiveNotFound | Conflict | InvalidRequest | HostFailure>
  readonly list: Effect.Effect<ReadonlyArray<ArchiveStore.ArchiveRecord>>
  /** A finalized archive and the file holding it. */
  readonly get: (archiveId: string) => Effect.Effect<{ readonly record: ArchiveStore.ArchiveRecord; readonly file: string }, ArchiveNotFound>
  readonly remove: (archiveId: string) => Effect.Effect<void, ArchiveNotFound>
  /** Empties `sandboxPath` in the running sandbox and unpacks the archive there. */
  readonly replaceMount: (
    sandboxId: string,
    archiveId: string,
    sandboxPath: string
  ) => Effect.Effect<void, SandboxNotFound | ArchiveNotFound | Conflict | InvalidRequest | HostFailure>
}

export class Archives extends Context.Tag("@heyo-effect/server/Archives")<Archives, Service>() {}

const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
const newId = () => {
  let id = "ar-"
  for (const b of crypto.randomBytes(16)) id += idAlphabet[b % idAlphabet.length]
  return id
}

/** The signing key: made once per data dir, readable by root only. */
const signingKey = (dataDir: string) => {
  const file = path.join(dataDir, "archive-signing-key")
  try {
    const key = fs.readFileSync(file)
    if (key.length >= 32) return key
  } catch {
    // first use
  }
  const key = crypto.randomBytes(32)
  fs.writeFileSync(file, key, { mode: 0o600 })
  return key
}

export const make = Effect.gen(function*() {
  const config = yield* ServerConfig
  const store = yield* Store
  const runtime = yield* Runtime
  const sandboxes = yield* Sandboxes
  const archives = ArchiveStore.make(store.database)
  const dir = ArchiveStore.directory(config.dataDir)
  yield* Effect.sync(() => fs.mkdirSync(dir, { recursive: true, mode: 0o700 }))
  const key = yield* Effect.sync(() => signingKey(config.dataDir))
  const tarBin = which("tar") ?? "tar"

  // Uploads that were never finalized (their URLs have expired) and files no row knows of (a
  // crash mid-upload) go at start-up, so abandoned uploads cannot fill the disk across restarts.
  yield* Effect.sync(() => {
    const cutoff = new Date(Date.now() - 2 * uploadTtlSeconds * 1000).toISOString()
    for (const id of archives.stalePending(cutoff)) archives.remove(id)
    const known = archives.ids()
    for (const name of fs.readdirSync(dir)) {
      const id = name.replace(/\.tar\.gz(\.part)?$/, "")
      if (!known.has(id) || name.endsWith(".part")) fs.rmSync(path.join(dir, name), { force: true })
    }
  })

  const sign = (archiveId: string, expires: string) =>
    crypto.createHmac("sha256", key).update(`${archiveId}\n${expires}`).digest("hex")

  const find = (archiveId: string) =>
    Effect.suspend(() => {
      const record = ArchiveStore.idPattern.test(archiveId) ? archives.get(archiveId) : undefined
      return record === undefined ? Effect.fail(new ArchiveNotFound({ archiveId })) : Effect.succeed(record)
    })

  const ready = (archiveId: string) =>
    Effect.flatMap(find(archiveId), (record) =>
      record.status === "ready" ? Effect.succeed(record) : Effect.fail(new ArchiveNotFound({ archiveId })))

  const presign = Effect.fn("Archives.presign")(function*(baseUrl: string) {
    const archiveId = newId()
    const expires = String(Math.floor(Date.now() / 1000) + uploadTtlSeconds)
    yield* Effect.sync(() =>
      archives.insert({
        id: archiveId,
        label: "",
        name: null,
        sizeBytes: 0,
        createdAt: new Date().toISOString(),
        status: "pending",
        prefix: ""
      })
    )
    const query = new URLSearchParams({ expires, signature: sign(archiveId, expires) })
    return {
      archiveId,
      uploadUrl: `${baseUrl.replace(/\/+$/, "")}/sandbox-archives/${archiveId}/upload?${query}`,
      expiresInSecs: uploadTtlSeconds
    }
  })

  const upload = Effect.fn("Archives.upload")(function*(
    archiveId: string,
    credential: { readonly expires: string | undefined; readonly signature: string | undefined },
    body: Readable
  ) {
    const { expires, signature } = credential
    if (expires === undefined || signature === undefined || !/^\d+$/.test(expires) || !/^[0-9a-f]{64}$/.test(signature)) {
      return yield* new UploadDenied({ message: "the upload URL lacks its expires and signature parameters" })
    }
    const expected = Buffer.from(sign(archiveId, expires), "hex")
    if (!crypto.timingSafeEqual(expected, Buffer.from(signature, "hex"))) {
      return yield* new UploadDenied({ message: "the upload URL's signature does not match" })
    }
    if (Number(expires) * 1000 < Date.now()) {
      return yield* new UploadDenied({ message: "the upload URL has expired: presign a new one" })
    }
    const record = yield* find(archiveId)
    if (record.status !== "pending") {
      return yield* new Conflict({ message: `archive ${archiveId} is already finalized` })
    }
    const file = ArchiveStore.fileOf(config.dataDir, archiveId)
    const part = `${file}.part`
    let size = 0
    yield* Effect.tryPromise({
      try: () =>
        pipeline(
          body,
          async function*(source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              size += chunk.length
              if (size > maxArchiveBytes) throw new Error(`archive larger than ${maxArchiveBytes} bytes`)
              yield chunk
            }
          },
          fs.createWriteStream(part, { mode: 0o600 })
        ),
      catch: (error) => {
        fs.rmSync(part, { force: true })
        const message = error instanceof Error ? error.message : String(error)
        return size > maxArchiveBytes
          ? new InvalidRequest({ message })
          : new HostFailure({ message: `upload of ${archiveId} failed: ${message}` })
      }
    })
    yield* Effect.sync(() => fs.renameSync(part, file))
    return { sizeBytes: size }
  })

  const finalize = Effect.fn("Archives.finalize")(function*(archiveId: string, label: string, name: string | undefined) {
    const record = yield* find(archiveId)
    const file = ArchiveStore.fileOf(config.dataDir, archiveId)
    const size = yield* Effect.sync(() => {
      try {
        return fs.statSync(file).size
      } catch {
        return 0
      }
    })
    if (size === 0) {
      return yield* new Conflict({ message: `nothing was uploaded for archive ${archiveId}: PUT it to its upload URL first` })
    }
    // Listing only (never extracting) on the host: it proves the file is a tar.gz and says where
    // its entries sit.
    const listing = yield* HostCommand.run(tarBin, ["-tzf", file], { operation: "list archive", timeoutMs: 600_000 }).pipe(
      Effect.mapError((e) => new InvalidRequest({ message: `archive ${archiveId} is not a readable tar.gz: ${e.message}` }))
    )
    const next: ArchiveStore.ArchiveRecord = {
      ...record,
      label,
      name: name ?? null,
      sizeBytes: size,
      status: "ready",
      prefix: commonPrefix(listing.stdout)
    }
    yield* Effect.sync(() => archives.update(next))
    return next
  })

  const get = (archiveId: string) =>
    Effect.map(ready(archiveId), (record) => ({ record, file: ArchiveStore.fileOf(config.dataDir, archiveId) }))

  const remove = Effect.fn("Archives.remove")(function*(archiveId: string) {
    yield* find(archiveId)
    yield* Effect.sync(() => {
      const file = ArchiveStore.fileOf(config.dataDir, archiveId)
      fs.rmSync(file, { force: true })
      fs.rmSync(`${file}.part`, { force: true })
      archives.remove(archiveId)
    })
  })

  const replaceMount = Effect.fn("Archives.replaceMount")(function*(sandboxId: string, archiveId: string, sandboxPath: string) {
    yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
    const dest = destination(sandboxPath)
    if ("error" in dest) return yield* new InvalidRequest({ message: dest.error })
    const record = yield* ready(archiveId)
    const file = ArchiveStore.fileOf(config.dataDir, archiveId)
    // Held for the whole unpack: a stop or delete waits for it rather than cut it short.
    yield* sandboxes.exclusive(
      sandboxId,
      Effect.gen(function*() {
        const sandbox = yield* sandboxes.get(sandboxId)
        if (sandbox.status !== "running") {
          return yield* new Conflict({ message: `sandbox ${sandboxId} is ${sandbox.status}; it must be running` })
        }
        yield* unpack(runtime, sandboxId, file, dest.path, { replace: true, strip: stripFor(record.prefix, dest.path) }).pipe(
          Effect.catchTags({
            UnpackFailed: (e) => Effect.fail(new InvalidRequest({ message: e.message })),
            RuntimeError: (e) => Effect.fail(new HostFailure({ message: e.message })),
            SandboxNotRunning: (e) => Effect.fail(new Conflict({ message: e.message }))
          })
        )
      })
    )
  })

  return Archives.of({
    presign,
    upload,
    finalize,
    list: Effect.sync(() => archives.list()),
    get,
    remove,
    replaceMount
  })
})

export const layer: Layer.Layer<Archives, never, ServerConfig | Store | Runtime | Sandboxes> = Layer.effect(Archives, make)
