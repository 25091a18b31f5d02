/**
 * What a streamed command yields, in the order the server sent it: output chunks from stdout and
 * stderr (kept apart), then exactly one `Exit`, last.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/** @since 0.1.0 */
export type ExecEvent = Data.TaggedEnum<{
  readonly Stdout: { readonly data: Uint8Array }
  readonly Stderr: { readonly data: Uint8Array }
  /** 0-255, as the exec wire carries one byte; 128+N when the command died of signal N. */
  readonly Exit: { readonly exitCode: number }
  /**
   * Only on `attach`: the output from byte `from` up to byte `to` is no longer held by the
   * server (it scrolled out of the session's scrollback), so the replay starts at `to`.
   */
  readonly OutputLost: { readonly from: number; readonly to: number }
}>

/** @since 0.1.0 */
export const { $is, $match, Exit, OutputLost, Stderr, Stdout } = Data.taggedEnum<ExecEvent>()
