/**
 * What the engine can refuse. Dialect adapters turn each into their own status code and body.
 */
import * as Schema from "effect/Schema"

export class SandboxNotFound extends Schema.TaggedError<SandboxNotFound>()("SandboxNotFound", {
  sandboxId: Schema.String
}) {
  override get message() {
    return `sandbox ${this.sandboxId} not found`
  }
}

/** The request is well-formed but names something invalid (unknown image, bad name...). */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  message: Schema.String
}) {}

/** The request conflicts with the current state (duplicate name, sandbox not running...). */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", {
  message: Schema.String
}) {}

/** A file operation failed inside the sandbox. */
export class FileFailed extends Schema.TaggedError<FileFailed>()("FileFailed", {
  reason: Schema.Literal("NotFound", "IsDirectory", "NotDirectory", "PermissionDenied", "ReadOnly", "Other"),
  path: Schema.String,
  message: Schema.String
}) {}

/** The host failed to do something heyod needed (mount, cgroup, spawn...): a server error. */
export class HostFailure extends Schema.TaggedError<HostFailure>()("HostFailure", {
  message: Schema.String
}) {}

/** No exec session or shell with that id in the sandbox (or it expired). */
export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  sessionId: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId} not found`
  }
}

/** The thing still exists but is over: a session that already exited cannot be killed. */
export class Gone extends Schema.TaggedError<Gone>()("Gone", {
  message: Schema.String
}) {}

export type EngineError =
  | SandboxNotFound
  | InvalidRequest
  | Conflict
  | FileFailed
  | HostFailure
  | TimedOut
  | SessionNotFound
  | Gone

/** An operation ran past its deadline and was stopped. */
export class TimedOut extends Schema.TaggedError<TimedOut>()("TimedOut", {
  message: Schema.String
}) {}
