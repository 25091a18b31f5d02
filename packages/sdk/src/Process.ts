/**
 * A command started with `Commands.spawn`: its output as Streams, its input, signals and
 * terminal size, and its exit code. It lives in the Scope it was spawned in.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as HeyoError from "./HeyoError.js"

/** @since 0.1.0 */
export interface Process {
  /** The server's session id: what `Commands.sessions` lists and `Commands.attach` takes. */
  readonly sessionId: string
  /**
   * The command's stdout (its terminal's output, with `tty`), chunk by chunk, ending at its exit.
   * stdout and stderr are read from one connection: a consumer that leaves one of them unread
   * for long (beyond a few MiB) holds the other back, as with any pair of pipes.
   */
  readonly stdout: Stream.Stream<Uint8Array, HeyoError.Connection>
  /** Empty with `tty`: a terminal merges both. */
  readonly stderr: Stream.Stream<Uint8Array, HeyoError.Connection>
  /** Resolves once the connection took the bytes (backpressure from the command's reading). */
  readonly write: (data: Uint8Array | string) => Effect.Effect<void, HeyoError.Connection>
  /** EOF on stdin (on a terminal: the EOF character). */
  readonly closeStdin: Effect.Effect<void, HeyoError.Connection>
  /** `TERM`, `SIGINT`, `kill`...: the name, with or without `SIG`. */
  readonly signal: (signal: string) => Effect.Effect<void, HeyoError.Connection>
  /** The terminal's new size; nothing without `tty`. */
  readonly resize: (cols: number, rows: number) => Effect.Effect<void, HeyoError.Connection>
  /** The exit code (128+N after signal N); fails if the connection is lost before the exit. */
  readonly exitCode: Effect.Effect<number, HeyoError.Connection>
  /**
   * Lets go of the command without ending it: closing the Scope then only disconnects, and the
   * command runs on as a session to `attach` to later. Only for processes spawned `detachable`
   * (others end when their client leaves anyway); fails with InvalidArgument otherwise.
   */
  readonly detach: Effect.Effect<void, HeyoError.InvalidArgument>
}
