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

/** @since 0.1.0 */
export const HeyoError = Schema.Union(
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
