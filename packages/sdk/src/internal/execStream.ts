/**
 * The exec WebSocket's non-TTY exchange from the client side (reference/sprites-api.md §3.2,
 * §3.4): stdin as `0x00` frames then `[0x04]`, output frames decoded into ExecEvents up to the
 * first exit (binary `0x03` or the JSON `exit` message, whichever comes first).
 */
import { SpritesExecFrame, SpritesExecMessage } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as ExecEvent from "../ExecEvent.js"
import type { WebSocketConnection } from "../HeyoClient.js"
import * as HeyoError from "../HeyoError.js"

const decodeText = Schema.decodeUnknownOption(SpritesExecMessage.ServerMessageFromJson)

/** One frame as an event; frames that carry none (session_info, unknown kinds) give none. */
export const toEvent = (message: string | Uint8Array): Option.Option<ExecEvent.ExecEvent> => {
  if (typeof message === "string") {
    return decodeText(message).pipe(
      Option.filter((m): m is SpritesExecMessage.ExitMessage => m.type === "exit"),
      Option.map((m) => ExecEvent.Exit({ exitCode: m.exit_code }))
    )
  }
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

/**
 * Runs the exchange on an open connection. A socket that closes before any exit is a
 * Connection error: the command's fate is unknown, which is not an exit code.
 */
export const events = <E>(
  connection: WebSocketConnection,
  call: string,
  stdin: Stream.Stream<Uint8Array, E> | undefined
): Stream.Stream<ExecEvent.ExecEvent, HeyoError.Connection | E> => {
  let exited = false
  const output = connection.messages.pipe(
    Stream.filterMap(toEvent),
    Stream.takeUntil((event) => event._tag === "Exit"),
    Stream.tap((event) => Effect.sync(() => (exited ||= event._tag === "Exit"))),
    Stream.concat(Stream.fromEffect(Effect.suspend(() =>
      exited ? Effect.void : Effect.flatMap(connection.closeCode, (code) =>
        Effect.fail(new HeyoError.Connection({
          message: `the exec socket closed before the command's exit${Option.match(code, { onNone: () => "", onSome: (c) => ` (close code ${c})` })} (calling ${call})`
        })))
    )).pipe(Stream.drain))
  )
  if (stdin === undefined) return output
  // The command may exit (and the socket close) before it read all its input: that is its
  // choice, so a failed send just stops the feed.
  let open = true
  const send = (data: Uint8Array) =>
    connection.send(data).pipe(Effect.as(true), Effect.orElseSucceed(() => false), Effect.tap((ok) => (open = ok)))
  const feed = stdin.pipe(
    Stream.filter((chunk) => chunk.byteLength > 0),
    Stream.mapEffect((chunk) => send(SpritesExecFrame.encode(SpritesExecFrame.Stdin, chunk))),
    Stream.takeWhile((sent) => sent),
    Stream.runDrain,
    Effect.zipRight(Effect.suspend(() => open ? send(SpritesExecFrame.stdinEof) : Effect.void))
  )
  return Stream.merge(output, Stream.drain(Stream.fromEffect(feed)), { haltStrategy: "left" })
}
