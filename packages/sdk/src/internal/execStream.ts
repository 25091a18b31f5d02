/**
 * The exec WebSocket from the client side (reference/sprites-api.md §3): frames decoded into
 * ExecEvents, `session_info` captured, output positions counted (heyod's offset extension), and
 * the client frames (stdin, EOF, signal, resize) encoded for the socket's mode.
 */
import { SpritesExecFrame, SpritesExecMessage } from "@heyo-effect/protocol"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as ExecEvent from "../ExecEvent.js"
import type { WebSocketConnection } from "../HeyoClient.js"
import * as HeyoError from "../HeyoError.js"

const decodeText = Schema.decodeUnknownOption(SpritesExecMessage.ServerMessageFromJson)
const encodeClient = Schema.encodeSync(SpritesExecMessage.ClientMessageFromJson)

type Decoded = ExecEvent.ExecEvent | { readonly _tag: "SessionInfo"; readonly info: SpritesExecMessage.SessionInfo }

/** One frame; frames that carry nothing for the caller (unknown kinds, port notices) give none. */
export const decode = (message: string | Uint8Array, tty: boolean): Option.Option<Decoded> => {
  if (typeof message === "string") {
    return Option.flatMap(decodeText(message), (m): Option.Option<Decoded> => {
      switch (m.type) {
        case "exit":
          return Option.some(ExecEvent.Exit({ exitCode: m.exit_code }))
        case "session_info":
          return Option.some({ _tag: "SessionInfo", info: m })
        case "output_lost":
          return Option.some(ExecEvent.OutputLost({ from: m.requested_offset, to: m.offset }))
      }
    })
  }
  if (tty) return message.byteLength === 0 ? Option.none() : Option.some(ExecEvent.Stdout({ data: message }))
  const frame = SpritesExecFrame.decode(message)
  switch (frame?._tag) {
    case "Stdout":
      return Option.some(ExecEvent.Stdout({ data: frame.data }))
    case "Stderr":
      return Option.some(ExecEvent.Stderr({ data: frame.data }))
    case "Exit":
      return Option.some(ExecEvent.Exit({ exitCode: frame.exitCode }))
    default:
      return Option.none()
  }
}

export interface ExecChannel {
  /** The session's `session_info`, once it arrived. */
  readonly info: Deferred.Deferred<SpritesExecMessage.SessionInfo, HeyoError.Connection>
  /**
   * Output events up to and including the first Exit (binary `0x03` or the JSON `exit`,
   * whichever comes first). A socket that closes before any exit fails with Connection: the
   * command's fate is unknown, which is not an exit code.
   */
  readonly events: Stream.Stream<ExecEvent.ExecEvent, HeyoError.Connection>
  /** The output offset just past the last byte delivered by `events` (heyod's extension). */
  readonly offset: () => number
  readonly exited: () => boolean
  readonly write: (data: Uint8Array) => Effect.Effect<void, HeyoError.Connection>
  readonly closeStdin: Effect.Effect<void, HeyoError.Connection>
  readonly signal: (name: string) => Effect.Effect<void, HeyoError.Connection>
  readonly resize: (cols: number, rows: number) => Effect.Effect<void, HeyoError.Connection>
}

/** `mode`: the socket's framing, or "from-session" to take it from `session_info` (attach). */
export const channel = (connection: WebSocketConnection, call: string, mode: boolean | "from-session") =>
  Effect.gen(function*() {
    let tty = mode === true
    const info = yield* Deferred.make<SpritesExecMessage.SessionInfo, HeyoError.Connection>()
    let offset = 0
    let exited = false
    const events = connection.messages.pipe(
      Stream.filterMap((message) => decode(message, tty)),
      Stream.filterMap((decoded): Option.Option<ExecEvent.ExecEvent> => {
        switch (decoded._tag) {
          case "SessionInfo":
            offset = decoded.info.offset ?? 0
            if (mode === "from-session") tty = decoded.info.tty
            Deferred.unsafeDone(info, Effect.succeed(decoded.info))
            return Option.none()
          case "Stdout":
          case "Stderr":
            offset += decoded.data.byteLength
            return Option.some(decoded)
          case "OutputLost":
            offset = decoded.to
            return Option.some(decoded)
          case "Exit":
            exited = true
            return Option.some(decoded)
        }
      }),
      Stream.takeUntil((event) => event._tag === "Exit"),
      Stream.concat(Stream.fromEffect(Effect.suspend(() =>
        exited ? Effect.void : Effect.flatMap(connection.closeCode, (code) => {
          const error = new HeyoError.Connection({
            message: `the exec socket closed before the command's exit${
              Option.match(code, { onNone: () => "", onSome: (c) => ` (close code ${c})` })
            } (calling ${call})`
          })
          return Deferred.fail(info, error).pipe(Effect.zipRight(Effect.fail(error)))
        })
      )).pipe(Stream.drain))
    )
    const text = (message: SpritesExecMessage.ClientMessage) => connection.send(encodeClient(message))
    return {
      info,
      events,
      offset: () => offset,
      exited: () => exited,
      write: (data) =>
        data.byteLength === 0
          ? Effect.void
          : connection.send(tty ? data : SpritesExecFrame.encode(SpritesExecFrame.Stdin, data)),
      // A terminal has no EOF frame (§3.3): the EOF character is what a terminal sends.
      closeStdin: connection.send(tty ? Uint8Array.of(4) : SpritesExecFrame.stdinEof),
      signal: (name) => text(new SpritesExecMessage.SignalMessage({ signal: name })),
      resize: (cols, rows) => text(new SpritesExecMessage.ResizeMessage({ cols, rows }))
    } satisfies ExecChannel
  })

/**
 * Feeds `stdin` to the channel at the socket's pace, then EOF. The command may exit (and the
 * socket close) before it read all its input: that is its choice, so a failed send just stops
 * the feed; a failure of `stdin` itself fails the caller.
 */
export const feed = <E>(ch: ExecChannel, stdin: Stream.Stream<Uint8Array, E>): Effect.Effect<void, E> => {
  let open = true
  const send = (effect: Effect.Effect<void, HeyoError.Connection>) =>
    effect.pipe(Effect.as(true), Effect.orElseSucceed(() => false), Effect.tap((ok) => (open = ok)))
  return stdin.pipe(
    Stream.mapEffect((chunk) => send(ch.write(chunk))),
    Stream.takeWhile((sent) => sent),
    Stream.runDrain,
    Effect.zipRight(Effect.suspend(() => open ? send(ch.closeStdin) : Effect.void)),
    Effect.asVoid
  )
}
