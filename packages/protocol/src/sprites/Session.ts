/**
 * Exec sessions as listed and killed (reference/sprites-api.md §2.6): `GET /v1/sprites/{name}/exec`
 * and the NDJSON lines of `POST .../exec/{id}/kill`.
 */
import * as Schema from "effect/Schema"

/** `id` is a string (§9.4); `created` is RFC 3339 here, unlike `session_info`'s unix seconds. */
export class ExecSession extends Schema.Class<ExecSession>("ExecSession")({
  id: Schema.String,
  command: Schema.String,
  workdir: Schema.String,
  created: Schema.String,
  bytes_per_second: Schema.Number,
  is_active: Schema.Boolean,
  last_activity: Schema.String,
  tty: Schema.Boolean,
  /** heyod extensions: whether the command exited, its code, and the output offset reached. */
  exited: Schema.optional(Schema.Boolean),
  exit_code: Schema.optional(Schema.Int),
  output_bytes: Schema.optional(Schema.NonNegativeInt)
}) {}

export class SessionList extends Schema.Class<SessionList>("SessionList")({
  sessions: Schema.Array(ExecSession)
}) {}

/** One NDJSON line of a kill: signal -> [timeout] -> exited | killed | error -> complete. */
export class KillEvent extends Schema.Class<KillEvent>("KillEvent")({
  type: Schema.Literal("signal", "timeout", "exited", "killed", "error", "complete"),
  message: Schema.optional(Schema.String),
  signal: Schema.optional(Schema.String),
  pid: Schema.optional(Schema.Int),
  exit_code: Schema.optional(Schema.Int)
}) {}
