/**
 * One client on a session's exec WebSocket (reference/sprites-api.md §3.2-§3.6): `session_info`
 * first (with heyod's `offset`), then the output from the client's position in the session's
 * log, then the exit (`[0x03, code]` in non-TTY mode, `{"type":"exit","exit_code":N}` in both),
 * then a close 1000 at once (no 5 s linger: §9.5).
 *
 * Non-TTY output is framed `0x01`/`0x02`; consecutive chunks of one stream go out as one frame of
 * up to `frameBytes`, so a fast command costs few frames. TTY output is raw bytes. Client frames:
 * stdin (`0x00` then `0x04`, raw bytes in TTY mode), and the `signal` and `resize` text frames.
 *
 * Leaving (closing or dropping the socket) detaches, it never kills: the session decides, by its
 * `max_run_after_disconnect`, how long the command runs on.
 */
import { SpritesExecFrame, SpritesExecMessage } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as os from "node:os"
import type { Chunk, Reader } from "../../sessions/OutputLog.js"
import { type Session, Sessions } from "../../sessions/Sessions.js"
import * as WebSocketUpgrade from "../WebSocketUpgrade.js"
import { spriteVersion } from "./SpritesErrorResponse.js"

const frameBytes = 256 * 1024

const nextTurn = Effect.async<void>((resume) => {
  const timer = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(timer))
})

/** Headers of every exec upgrade (§1.3, §9.7). */
export const upgradeHeaders = { "Sprite-Version": spriteVersion, "X-Sprite-Capabilities": "signal" }

/** `TERM`, `SIGTERM`, `term`: the names a signal may use (§4.4). */
export const signalName = (name: string): NodeJS.Signals | undefined => {
  const upper = name.trim().toUpperCase()
  const full = upper.startsWith("SIG") ? upper : `SIG${upper}`
  return full in os.constants.signals ? (full as NodeJS.Signals) : undefined
}

const encodeText = Schema.encodeSync(Schema.parseJson(SpritesExecMessage.ServerMessage))
const decodeClientMessage = Schema.decodeUnknownOption(SpritesExecMessage.ClientMessageFromJson)

/** Chunks as frames: runs of one stream joined, each with its stream id (non-TTY) or raw (TTY). */
export const framesOf = (chunks: ReadonlyArray<Chunk>, tty: boolean): ReadonlyArray<Uint8Array> => {
  if (tty) return [chunks.length === 1 ? chunks[0]!.data : Buffer.concat(chunks.map((c) => c.data))]
  const frames: Array<Uint8Array> = []
  let run: Array<Uint8Array> = []
  let stream = chunks[0]!.stream
  const flush = () => {
    const size = run.reduce((n, d) => n + d.byteLength, 0)
    const frame = Buffer.allocUnsafe(1 + size)
    frame[0] = stream
    let at = 1
    for (const data of run) {
      frame.set(data, at)
      at += data.byteLength
    }
    frames.push(frame)
  }
  for (const chunk of chunks) {
    if (chunk.stream !== stream) {
      flush()
      run = []
      stream = chunk.stream
    }
    run.push(chunk.data)
  }
  flush()
  return frames
}

/**
 * Upgrades the request and serves one client of `session` from output offset `from`, until the
 * client leaves or the exit has been sent.
 */
export const serve = (
  session: Session,
  options: { readonly from: number; readonly owner: boolean } | { readonly creator: Reader }
) =>
  Effect.scoped(Effect.gen(function*() {
    const sessions = yield* Sessions
    const socket = yield* WebSocketUpgrade.accept(upgradeHeaders)
    // The creator of a fresh session is attached already (Sessions.start), from byte 0.
    const { lost, reader } = "creator" in options
      ? { lost: 0, reader: options.creator }
      : yield* sessions.attach(session).pipe(
        Effect.zipRight(Effect.acquireRelease(
          Effect.sync(() => session.log.attach(options.from)),
          ({ reader }) => Effect.sync(() => session.log.detach(reader))
        ))
      )
    const owner = "creator" in options || options.owner
    const size = session.size()

    const output = Effect.gen(function*() {
      yield* socket.send(encodeText(
        new SpritesExecMessage.SessionInfo({
          session_id: session.id,
          command: session.command,
          created: Math.floor(session.created.getTime() / 1000),
          ...(size !== undefined ? { cols: size.cols, rows: size.rows } : {}),
          is_owner: owner,
          tty: session.tty,
          offset: reader.cursor
        })
      ))
      if (lost > 0) {
        yield* socket.send(encodeText(
          new SpritesExecMessage.OutputLost({ requested_offset: reader.cursor - lost, offset: reader.cursor })
        ))
      }
      while (true) {
        const chunks = [...yield* session.log.read(reader, frameBytes)]
        if (chunks.length === 0) break
        // A fast command's output arrives 64 KiB per pipe read: one event-loop turn lets the next
        // reads land, so frames carry more per message (the client's cost is per message).
        let size = chunks.reduce((n, c) => n + c.data.byteLength, 0)
        if (size < frameBytes && !session.log.ended) {
          yield* nextTurn
          const more = session.log.readNow(reader, frameBytes - size)
          chunks.push(...more)
          size += more.reduce((n, c) => n + c.data.byteLength, 0)
        }
        for (const frame of framesOf(chunks, session.tty)) yield* socket.send(frame)
      }
      // The log ends once the command exited and its output is all in it.
      const exitCode = yield* session.exitCode
      if (!session.tty) yield* socket.send(SpritesExecFrame.encodeExit(exitCode))
      yield* socket.send(encodeText(new SpritesExecMessage.ExitMessage({ exit_code: exitCode })))
      yield* socket.close(1000)
    })

    const process = session.process
    const onMessage = (message: string | Uint8Array): Effect.Effect<void> => {
      if (typeof message === "string") {
        const parsed = decodeClientMessage(message)
        if (Option.isNone(parsed)) return Effect.void // unknown text is skipped, as clients skip ours
        const m = parsed.value
        if (m.type === "signal") {
          const signal = signalName(m.signal)
          return signal === undefined ? Effect.void : process.signal(signal)
        }
        return session.resize({ cols: clamp(m.cols), rows: clamp(m.rows) })
      }
      if (!session.stdin) return Effect.void
      if (session.tty) return message.byteLength > 0 ? process.write(message) : Effect.void
      const frame = SpritesExecFrame.decode(message)
      if (frame?._tag === "Stdin" && frame.data.byteLength > 0) return process.write(frame.data)
      if (frame?._tag === "StdinEof") return process.endStdin
      return Effect.void
    }

    yield* Effect.forkScoped(output)
    // Ends when the client closes or drops the socket, including after our own close 1000.
    yield* Stream.runForEach(socket.messages, onMessage)
  }))

const clamp = (n: number) => Math.min(Math.max(Math.trunc(n), 1), 65535)
