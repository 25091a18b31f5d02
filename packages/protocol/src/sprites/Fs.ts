/**
 * The Sprites filesystem wire (reference/sprites-api.md §2.10, §4.8): `/v1/sprites/{name}/fs/...`.
 * Keys are camelCase here, unlike the rest of the Sprites API (§1.4). Every path resolves
 * against `workingDir` (default `/`).
 */
import * as Schema from "effect/Schema"

/** Query booleans: `true`/`false` (the SDKs), `1`/`0` accepted too. */
const Flag = Schema.Literal("true", "false", "1", "0").pipe(
  Schema.transform(Schema.Boolean, {
    strict: true,
    decode: (v) => v === "true" || v === "1",
    encode: (v) => (v ? "true" : "false")
  })
)

/** A permission mode as the wire writes it: octal digits, `"0644"`. */
export const Mode = Schema.String.pipe(
  Schema.pattern(/^[0-7]{1,4}$/, { message: () => "mode must be an octal string such as \"0644\"" })
)

/** The errno codes of §4.8; anything else is `UNKNOWN`. */
export const ErrorCode = Schema.Literal(
  "ENOENT",
  "EEXIST",
  "ENOTDIR",
  "EISDIR",
  "EACCES",
  "EPERM",
  "ENOTEMPTY",
  "EINVAL",
  "EIO",
  "UNKNOWN"
)
export type ErrorCode = typeof ErrorCode.Type

/** Every fs failure: `error` is the human message, `code` the errno, `path` the path it concerns. */
export class ErrorBody extends Schema.Class<ErrorBody>("FsErrorBody")({
  error: Schema.String,
  code: ErrorCode,
  path: Schema.String
}) {}

/** Tolerant reading of an error body: any code string, a missing path. */
export const ErrorBodyTolerant = Schema.Struct({
  error: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  code: Schema.optional(Schema.String),
  path: Schema.optional(Schema.String)
})

const workingDir = Schema.optionalWith(Schema.String, { default: () => "/" })

/** `GET /fs/read?path&workingDir[&start&end]`; an HTTP `Range` header works too. */
export class ReadQuery extends Schema.Class<ReadQuery>("FsReadQuery")({
  path: Schema.String,
  workingDir,
  /** First byte (control-channel variant, §2.10). */
  start: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())),
  /** Last byte, inclusive. */
  end: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()))
}) {}

/** `PUT /fs/write?path&workingDir&mode&mkdirParents`; `mkdir` is the docs' name for the same flag (§9.10). */
export class WriteQuery extends Schema.Class<WriteQuery>("FsWriteQuery")({
  path: Schema.String,
  workingDir,
  mode: Schema.optional(Mode),
  mkdirParents: Schema.optional(Flag),
  mkdir: Schema.optional(Flag)
}) {}

export class WriteResponse extends Schema.Class<WriteResponse>("FsWriteResponse")({
  path: Schema.String,
  size: Schema.NonNegativeInt,
  mode: Schema.String
}) {}

/**
 * `GET /fs/list?path&workingDir&recursive&pattern`. A directory lists its entries, anything
 * else lists itself. `stat=true` is heyod's extension: the path itself, even a directory (the
 * reference's stat reads `entries[0]` of a plain list, which for a directory is its first child).
 */
export class ListQuery extends Schema.Class<ListQuery>("FsListQuery")({
  path: Schema.String,
  workingDir,
  recursive: Schema.optional(Flag),
  pattern: Schema.optional(Schema.String),
  stat: Schema.optional(Flag)
}) {}

export const EntryType = Schema.Literal("file", "directory", "symlink")

export class Entry extends Schema.Class<Entry>("FsEntry")({
  name: Schema.String,
  path: Schema.String,
  type: EntryType,
  size: Schema.NonNegativeInt,
  mode: Schema.String,
  /** RFC 3339. */
  modTime: Schema.String,
  isDir: Schema.Boolean
}) {}

export class ListResponse extends Schema.Class<ListResponse>("FsListResponse")({
  path: Schema.String,
  entries: Schema.Array(Entry),
  count: Schema.NonNegativeInt
}) {}

/** `DELETE /fs/delete?path&workingDir&recursive&asRoot` (what the SDKs send). */
export class DeleteQuery extends Schema.Class<DeleteQuery>("FsDeleteQuery")({
  path: Schema.optional(Schema.String),
  workingDir: Schema.optional(Schema.String),
  recursive: Schema.optional(Flag),
  asRoot: Schema.optional(Flag)
}) {}

/** The same as a JSON body (what the docs show, §9.10). */
export class DeleteRequest extends Schema.Class<DeleteRequest>("FsDeleteRequest")({
  path: Schema.optional(Schema.String),
  workingDir: Schema.optional(Schema.String),
  recursive: Schema.optional(Schema.Boolean),
  asRoot: Schema.optional(Schema.Boolean)
}) {}

export class DeleteResponse extends Schema.Class<DeleteResponse>("FsDeleteResponse")({
  deleted: Schema.Array(Schema.String),
  count: Schema.NonNegativeInt
}) {}

export class RenameRequest extends Schema.Class<RenameRequest>("FsRenameRequest")({
  source: Schema.String,
  dest: Schema.String,
  workingDir,
  asRoot: Schema.optional(Schema.Boolean)
}) {}

export class RenameResponse extends Schema.Class<RenameResponse>("FsRenameResponse")({
  source: Schema.String,
  dest: Schema.String
}) {}

export class CopyRequest extends Schema.Class<CopyRequest>("FsCopyRequest")({
  source: Schema.String,
  dest: Schema.String,
  workingDir,
  recursive: Schema.optional(Schema.Boolean),
  preserveAttrs: Schema.optional(Schema.Boolean),
  asRoot: Schema.optional(Schema.Boolean)
}) {}

const Pair = Schema.Struct({ source: Schema.String, dest: Schema.String })

/** Both shapes of §2.10 at once: the JS type's `{source, dest, count}` and the control variant's. */
export class CopyResponse extends Schema.Class<CopyResponse>("FsCopyResponse")({
  source: Schema.String,
  dest: Schema.String,
  count: Schema.NonNegativeInt,
  totalBytes: Schema.NonNegativeInt,
  copied: Schema.Array(Pair)
}) {}

export class ChmodRequest extends Schema.Class<ChmodRequest>("FsChmodRequest")({
  path: Schema.String,
  workingDir,
  mode: Mode,
  recursive: Schema.optional(Schema.Boolean),
  asRoot: Schema.optional(Schema.Boolean)
}) {}

export class ChmodResponse extends Schema.Class<ChmodResponse>("FsChmodResponse")({
  path: Schema.String,
  mode: Schema.String,
  count: Schema.NonNegativeInt,
  affected: Schema.Array(Schema.Struct({ path: Schema.String, mode: Schema.String }))
}) {}

/** A numeric id or a user/group name (resolved in the sandbox's own /etc/passwd and /etc/group). */
export const Owner = Schema.Union(Schema.NonNegativeInt, Schema.String)

export class ChownRequest extends Schema.Class<ChownRequest>("FsChownRequest")({
  path: Schema.String,
  workingDir,
  uid: Schema.optional(Owner),
  gid: Schema.optional(Owner),
  recursive: Schema.optional(Schema.Boolean),
  asRoot: Schema.optional(Schema.Boolean)
}) {}

export class ChownResponse extends Schema.Class<ChownResponse>("FsChownResponse")({
  path: Schema.String,
  uid: Schema.optional(Schema.NonNegativeInt),
  gid: Schema.optional(Schema.NonNegativeInt),
  count: Schema.NonNegativeInt,
  affected: Schema.Array(Schema.Struct({ path: Schema.String, uid: Schema.Int, gid: Schema.Int }))
}) {}

const type = <T extends string>(value: T) =>
  Schema.Literal(value).pipe(Schema.propertySignature, Schema.withConstructorDefault(() => value))

/** `WSS /fs/watch`: the client's first text frame. */
export class WatchSubscribe extends Schema.Class<WatchSubscribe>("FsWatchSubscribe")({
  type: type("subscribe"),
  paths: Schema.Array(Schema.String),
  recursive: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  workingDir
}) {}

export class WatchSubscribed extends Schema.Class<WatchSubscribed>("FsWatchSubscribed")({
  type: type("subscribed"),
  paths: Schema.Array(Schema.String)
}) {}

export const WatchEventKind = Schema.Literal("write", "create", "remove", "rename", "chmod")
export type WatchEventKind = typeof WatchEventKind.Type

export class WatchEvent extends Schema.Class<WatchEvent>("FsWatchEvent")({
  type: type("event"),
  path: Schema.String,
  event: WatchEventKind,
  /** RFC 3339. */
  timestamp: Schema.String,
  size: Schema.optional(Schema.NonNegativeInt),
  isDir: Schema.optional(Schema.Boolean)
}) {}

export class WatchError extends Schema.Class<WatchError>("FsWatchError")({
  type: type("error"),
  message: Schema.String
}) {}

export const WatchServerMessage = Schema.Union(WatchSubscribed, WatchEvent, WatchError)
export type WatchServerMessage = typeof WatchServerMessage.Type
export const WatchServerMessageFromJson = Schema.parseJson(WatchServerMessage)
export const WatchSubscribeFromJson = Schema.parseJson(WatchSubscribe)
