/**
 * Heyo archives (reference/heyo-api.md §2.4): presign, finalize, list, and the two routes that
 * unpack one into a sandbox (`archive_id` at deploy, `replace-mount`).
 */
import * as Schema from "effect/Schema"

export const ArchiveId = Schema.String.pipe(Schema.brand("ArchiveId"))
export type ArchiveId = typeof ArchiveId.Type

/** `POST /sandbox-archives/presign` (no body). */
export class PresignResponse extends Schema.Class<PresignResponse>("PresignResponse")({
  archiveId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("archive_id")),
  /** A `PUT` target carrying its own expiring credential: send no Authorization header. */
  uploadUrl: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("upload_url")),
  expiresInSecs: Schema.optional(Schema.Number).pipe(Schema.fromKey("expires_in_secs"))
}) {}

/** `POST /sandbox-archives/:id/finalize`; `sandbox_id` is a label (the SDK sends the directory's name). */
export class FinalizeBody extends Schema.Class<FinalizeBody>("FinalizeBody")({
  sandboxId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("sandbox_id")),
  name: Schema.optional(Schema.String)
}) {}

export class FinalizeResponse extends Schema.Class<FinalizeResponse>("FinalizeResponse")({
  id: Schema.String,
  sizeBytes: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("size_bytes")),
  createdAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("created_at"))
}) {}

export class ArchiveInfo extends Schema.Class<ArchiveInfo>("ArchiveInfo")({
  id: Schema.String,
  sandboxId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("sandbox_id")),
  s3Key: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("s3_key")),
  sizeBytes: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("size_bytes")),
  name: Schema.optional(Schema.NullOr(Schema.String)),
  createdAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("created_at"))
}) {}

/** `GET /sandbox-archives` wraps its list. */
export class ArchiveList extends Schema.Class<ArchiveList>("ArchiveList")({
  archives: Schema.Array(ArchiveInfo)
}) {}

export const DefaultSandboxPath = "/workspace"

/** `POST /deployed-sandboxes/:id/replace-mount`. */
export class ReplaceMountBody extends Schema.Class<ReplaceMountBody>("ReplaceMountBody")({
  archiveId: Schema.propertySignature(Schema.String.pipe(Schema.minLength(1))).pipe(Schema.fromKey("archive_id")),
  sandboxPath: Schema.optionalWith(Schema.String, { default: () => DefaultSandboxPath }).pipe(
    Schema.fromKey("sandbox_path")
  )
}) {}

/**
 * Directory names `archive_dir` leaves out unless told otherwise (§2.4), wherever they occur.
 */
export const DefaultExcludes: ReadonlyArray<string> = [
  "node_modules",
  ".git",
  "target",
  "__pycache__",
  ".cache",
  ".npm",
  ".cargo",
  "dist",
  ".next",
  ".nuxt",
  "build",
  "vendor",
  ".venv",
  "venv",
  ".tox"
]
