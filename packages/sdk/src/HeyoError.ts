/**
 * Every failure the SDK can raise, as `Schema.TaggedError`s (yieldable, catchable by tag,
 * encodable for logs and RPC). Each carries a human `message`.
 *
 * HTTP statuses map as the Heyo SDKs do (reference/heyo-api.md §6): 401/403 Authentication,
 * 400/422 InvalidArgument, 404 NotFound, 429 RateLimited, anything else Api. Transport failures
 * are Connection, deadlines are Timeout. @effect/platform errors never leak out of the SDK.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/** @since 0.1.0 */
export const TypeId: unique symbol = Symbol.for("@heyo-effect/sdk/HeyoError")
/** @since 0.1.0 */
export type TypeId = typeof TypeId

/** 401 or 403: missing, wrong or expired credential, or not the owner. */
export class Authentication extends Schema.TaggedError<Authentication>()("Authentication", {
  status: Schema.Number,
  message: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
}

/** 400 or 422 from the server, or an argument the SDK refused before sending anything. */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  status: Schema.optional(Schema.Number),
  message: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
}

/** 404. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  message: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Any other status (402, 409, 413, 5xx, ...), or a 2xx whose body does not decode. `body` is
 * the parsed JSON error body when there was one.
 */
export class Api extends Schema.TaggedError<Api>()("Api", {
  status: Schema.Number,
  message: Schema.String,
  body: Schema.optional(Schema.Unknown)
}) {
  readonly [TypeId]: TypeId = TypeId
}

/** The request never got a response: refused, reset, DNS, TLS, invalid URL. */
export class Connection extends Schema.TaggedError<Connection>()("Connection", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  readonly [TypeId]: TypeId = TypeId
}

/** A client-side deadline passed: a request's, a stream's idle timeout, or a wait. */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  message: Schema.String,
  timeout: Schema.Duration
}) {
  readonly [TypeId]: TypeId = TypeId
}

/** 429. `retryAfter` comes from the `Retry-After` header when the server sent one. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  message: Schema.String,
  retryAfter: Schema.Option(Schema.Duration)
}) {
  readonly [TypeId]: TypeId = TypeId
}

/** The sandbox reached status `failed` while the SDK waited for it. */
export class SandboxFailed extends Schema.TaggedError<SandboxFailed>()("SandboxFailed", {
  sandboxId: Schema.String,
  reason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `sandbox ${this.sandboxId} failed: ${this.reason}`
  }
}

/** The server lacks an extension the call needs (its `GET /capabilities` does not list it). */
export class Unsupported extends Schema.TaggedError<Unsupported>()("Unsupported", {
  feature: Schema.String,
  message: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
}

/** A shell or exec session is gone on the server (it cannot be resumed). */
export class SessionExpired extends Schema.TaggedError<SessionExpired>()("SessionExpired", {
  sessionId: Schema.Option(Schema.String)
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `session ${this.sessionId._tag === "Some" ? this.sessionId.value + " " : ""}expired`
  }
}

/** An interactive shell ended with a non-zero exit code. */
export class ShellExit extends Schema.TaggedError<ShellExit>()("ShellExit", {
  exitCode: Schema.Int
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `shell exited with code ${this.exitCode}`
  }
}

/** A database check-in lost a race: the server holds a newer version. */
export class CheckinConflict extends Schema.TaggedError<CheckinConflict>()("CheckinConflict", {
  expected: Schema.Option(Schema.Number),
  current: Schema.Number
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const expected = this.expected._tag === "Some" ? String(this.expected.value) : "none"
    return `check-in conflict: expected version ${expected}, server has ${this.current}`
  }
}

/**
 * A command exited non-zero. Only raised by the calls that ask for it (`Commands.runOrFail`):
 * by default an exit code is a value.
 */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  sandboxId: Schema.String,
  command: Schema.String,
  exitCode: Schema.Int,
  stdout: Schema.String,
  stderr: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const detail = (this.stderr.trim() || this.stdout.trim()).slice(-500)
    return `command exited with code ${this.exitCode} in sandbox ${this.sandboxId}` +
      (detail === "" ? "" : `: ${detail}`)
  }
}

/**
 * Filesystem failures, one class per errno of the Sprites fs wire (reference/sprites-api.md
 * §4.8). Each carries the errno `code`, the sandbox `path` it concerns and the server's message.
 */
const fsFields = { code: Schema.String, path: Schema.String, message: Schema.String }

/** ENOENT: no such file or directory. */
export class FileNotFound extends Schema.TaggedError<FileNotFound>()("FileNotFound", fsFields) {
  readonly [TypeId]: TypeId = TypeId
}

/** EEXIST: the path already exists. */
export class FileExists extends Schema.TaggedError<FileExists>()("FileExists", fsFields) {
  readonly [TypeId]: TypeId = TypeId
}

/** ENOTDIR: a path component (or the target) is not a directory. */
export class NotADirectory extends Schema.TaggedError<NotADirectory>()("NotADirectory", fsFields) {
  readonly [TypeId]: TypeId = TypeId
}

/** EISDIR: the operation needs a file and found a directory. */
export class IsADirectory extends Schema.TaggedError<IsADirectory>()("IsADirectory", fsFields) {
  readonly [TypeId]: TypeId = TypeId
}

/** EACCES or EPERM: the sandbox's kernel refused (read-only file system included). */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", fsFields) {
  readonly [TypeId]: TypeId = TypeId
}

/** ENOTEMPTY: a directory to remove still has entries (remove it recursively). */
export class DirectoryNotEmpty extends Schema.TaggedError<DirectoryNotEmpty>()("DirectoryNotEmpty", fsFields) {
  readonly [TypeId]: TypeId = TypeId
}

/** Any other filesystem failure: EINVAL (a bad path, mode or range), EIO, UNKNOWN. */
export class FilesystemError extends Schema.TaggedError<FilesystemError>()("FilesystemError", fsFields) {
  readonly [TypeId]: TypeId = TypeId
}

/** @since 0.1.0 */
export type FsError =
  | FileNotFound
  | FileExists
  | NotADirectory
  | IsADirectory
  | PermissionDenied
  | DirectoryNotEmpty
  | FilesystemError

/** The FsError for an errno code. @since 0.1.0 */
export const fsError = (fields: { readonly code: string; readonly path: string; readonly message: string }): FsError => {
  switch (fields.code) {
    case "ENOENT":
      return new FileNotFound(fields)
    case "EEXIST":
      return new FileExists(fields)
    case "ENOTDIR":
      return new NotADirectory(fields)
    case "EISDIR":
      return new IsADirectory(fields)
    case "EACCES":
    case "EPERM":
      return new PermissionDenied(fields)
    case "ENOTEMPTY":
      return new DirectoryNotEmpty(fields)
    default:
      return new FilesystemError(fields)
  }
}

/** @since 0.1.0 */
export const HeyoError = Schema.Union(
  FileNotFound,
  FileExists,
  NotADirectory,
  IsADirectory,
  PermissionDenied,
  DirectoryNotEmpty,
  FilesystemError,
  Authentication,
  InvalidArgument,
  NotFound,
  Api,
  Connection,
  Timeout,
  RateLimited,
  SandboxFailed,
  Unsupported,
  SessionExpired,
  ShellExit,
  CheckinConflict,
  CommandFailed
)
/** @since 0.1.0 */
export type HeyoError = typeof HeyoError.Type

/** What any single HTTP call can fail with. */
export type HttpError = Authentication | InvalidArgument | NotFound | RateLimited | Api | Connection | Timeout

/** @since 0.1.0 */
export const isHeyoError = (u: unknown): u is HeyoError => Predicate.hasProperty(u, TypeId)
