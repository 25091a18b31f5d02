/**
 * The exec WebSocket's JSON text frames (reference/sprites-api.md §3.3, §3.5). Each carries its
 * kind in `type`; constructors fill it in.
 */
import * as Schema from "effect/Schema"

const type = <T extends string>(value: T) =>
  Schema.Literal(value).pipe(Schema.propertySignature, Schema.withConstructorDefault(() => value))

/**
 * Sent first on every exec socket. `session_id` is a string (§3.5 and §9.4: the Go SDK cannot
 * parse a number). `created` is unix seconds. `offset` is heyod's extension: the position, in
 * the session's output, of the first byte this socket carries (0 for a fresh exec).
 */
export class SessionInfo extends Schema.Class<SessionInfo>("SessionInfo")({
  type: type("session_info"),
  session_id: Schema.String,
  command: Schema.String,
  created: Schema.Int,
  cols: Schema.optional(Schema.Int),
  rows: Schema.optional(Schema.Int),
  is_owner: Schema.Boolean,
  tty: Schema.Boolean,
  offset: Schema.optional(Schema.NonNegativeInt)
}) {}

/** The exit code in both modes, after the binary exit frame in non-TTY mode (§3.4). */
export class ExitMessage extends Schema.Class<ExitMessage>("ExitMessage")({
  type: type("exit"),
  exit_code: Schema.Int
}) {}

/**
 * heyod extension, sent right after `session_info` on an attach with `?offset=N` when N is older
 * than the scrollback still held: the bytes from `requested_offset` up to `offset` (where the
 * replay starts) are gone. Clients that do not know it skip it like any unknown text frame.
 */
export class OutputLost extends Schema.Class<OutputLost>("OutputLost")({
  type: type("output_lost"),
  requested_offset: Schema.NonNegativeInt,
  offset: Schema.NonNegativeInt
}) {}

/** client -> server: signal the process group; names with or without `SIG` (§4.4). */
export class SignalMessage extends Schema.Class<SignalMessage>("SignalMessage")({
  type: type("signal"),
  signal: Schema.String
}) {}

/** client -> server, TTY mode only. */
export class ResizeMessage extends Schema.Class<ResizeMessage>("ResizeMessage")({
  type: type("resize"),
  cols: Schema.Int,
  rows: Schema.Int
}) {}

/** What heyod sends as text; other types (port notifications...) are for clients to skip. */
export const ServerMessage = Schema.Union(SessionInfo, ExitMessage, OutputLost)
export type ServerMessage = typeof ServerMessage.Type

export const ClientMessage = Schema.Union(SignalMessage, ResizeMessage)
export type ClientMessage = typeof ClientMessage.Type

/** The JSON text of a frame, decoded in one step. */
export const ServerMessageFromJson = Schema.parseJson(ServerMessage)
export const ClientMessageFromJson = Schema.parseJson(ClientMessage)
