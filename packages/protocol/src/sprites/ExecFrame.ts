/**
 * The exec WebSocket's binary framing in non-TTY mode (reference/sprites-api.md §3.2): each
 * binary frame starts with a stream id byte; the rest is payload. Pure byte functions, no I/O.
 */

/** client -> server: stdin bytes. */
export const Stdin = 0x00
/** server -> client: stdout bytes. */
export const Stdout = 0x01
/** server -> client: stderr bytes. */
export const Stderr = 0x02
/** server -> client: one byte, the exit code 0-255. */
export const Exit = 0x03
/** client -> server: no payload; closes the child's stdin. */
export const StdinEof = 0x04

export type StreamId = typeof Stdin | typeof Stdout | typeof Stderr | typeof Exit | typeof StdinEof

export type Frame =
  | { readonly _tag: "Stdin"; readonly data: Uint8Array }
  | { readonly _tag: "Stdout"; readonly data: Uint8Array }
  | { readonly _tag: "Stderr"; readonly data: Uint8Array }
  | { readonly _tag: "Exit"; readonly exitCode: number }
  | { readonly _tag: "StdinEof" }

/** A stream id byte followed by `payload`, in one allocation. */
export const encode = (id: StreamId, payload?: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(1 + (payload?.byteLength ?? 0))
  frame[0] = id
  if (payload !== undefined) frame.set(payload, 1)
  return frame
}

/** `[0x03, code & 0xff]`: the wire carries one byte, so codes above 255 wrap as in a shell. */
export const encodeExit = (exitCode: number): Uint8Array => Uint8Array.of(Exit, exitCode & 0xff)

export const stdinEof: Uint8Array = Uint8Array.of(StdinEof)

/**
 * One binary frame. Empty frames decode to `undefined` (the reference says to ignore them), as
 * do unknown ids, which a newer server may add. The payload is a view, not a copy.
 */
export const decode = (frame: Uint8Array): Frame | undefined => {
  if (frame.byteLength === 0) return undefined
  const payload = frame.subarray(1)
  switch (frame[0]) {
    case Stdin:
      return { _tag: "Stdin", data: payload }
    case Stdout:
      return { _tag: "Stdout", data: payload }
    case Stderr:
      return { _tag: "Stderr", data: payload }
    case Exit:
      // Clients read payload[0]; a missing byte means 0 (§3.2).
      return { _tag: "Exit", exitCode: payload.byteLength === 0 ? 0 : payload[0]! }
    case StdinEof:
      return { _tag: "StdinEof" }
    default:
      return undefined
  }
}
