/**
 * An exec session as `Commands.sessions` lists it: a command the server keeps running (and
 * keeps the recent output of) whether or not a client is attached.
 *
 * @since 0.1.0
 */
import { SpritesSession } from "@heyo-effect/protocol"
import * as Schema from "effect/Schema"

/** @since 0.1.0 */
export class ExecSession extends Schema.Class<ExecSession>("ExecSession")({
  id: Schema.String,
  command: Schema.String,
  workdir: Schema.String,
  created: Schema.DateFromString,
  /** A client is attached. */
  isActive: Schema.Boolean,
  lastActivity: Schema.DateFromString,
  bytesPerSecond: Schema.Number,
  tty: Schema.Boolean,
  /** heyod tells these; other servers may not. */
  exited: Schema.optional(Schema.Boolean),
  exitCode: Schema.optional(Schema.Int),
  /** Output produced so far: the offset a caller that saw everything would `attach` from. */
  outputBytes: Schema.optional(Schema.NonNegativeInt)
}) {}

/** The wire's snake_case listing, decoded into ExecSessions. @internal */
export const fromWire = Schema.transform(SpritesSession.SessionList, Schema.Array(ExecSession), {
  strict: false,
  decode: (list) =>
    list.sessions.map((s) => ({
      id: s.id,
      command: s.command,
      workdir: s.workdir,
      created: s.created,
      isActive: s.is_active,
      lastActivity: s.last_activity,
      bytesPerSecond: s.bytes_per_second,
      tty: s.tty,
      ...(s.exited !== undefined ? { exited: s.exited } : {}),
      ...(s.exit_code !== undefined ? { exitCode: s.exit_code } : {}),
      ...(s.output_bytes !== undefined ? { outputBytes: s.output_bytes } : {})
    })),
  encode: (sessions) => ({
    sessions: sessions.map((s) => ({
      id: s.id,
      command: s.command,
      workdir: s.workdir,
      created: s.created,
      is_active: s.isActive,
      last_activity: s.lastActivity,
      bytes_per_second: s.bytesPerSecond,
      tty: s.tty,
      ...(s.exited !== undefined ? { exited: s.exited } : {}),
      ...(s.exitCode !== undefined ? { exit_code: s.exitCode } : {}),
      ...(s.outputBytes !== undefined ? { output_bytes: s.outputBytes } : {})
    }))
  })
})
