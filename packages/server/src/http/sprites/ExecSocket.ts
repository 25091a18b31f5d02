/**
 * `WSS /v1/sprites/{name}/exec` in non-TTY mode (reference/sprites-api.md §3.2-§3.5): the
 * command's stdout and stderr as `0x01`/`0x02` binary frames, stdin from `0x00` frames until
 * `0x04`, then `[0x03, code]`, `{"type":"exit","exit_code":N}` and a close 1000 at once (no 5 s
 * linger: §9.5). `session_info` comes first.
 *
 * Flow control both ways, so one exec holds bounded memory in heyod whatever the peers' speeds:
 * - output: a frame is sent only once the TCP socket has drained the previous ones, and the
 *   command's pipes are read only as frames go out, so a slow client stalls the command;
 * - stdin: the TCP socket stops being read while more than `stdinHighWater` bytes wait for the
 *   command to take them.
 *
 * A client that goes away kills the command's process group (sessions that outlive their
 * socket are a later step).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Socket from "@effect/platform/Socket"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { SpritesExecFrame, SpritesExecMessage } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as net from "node:net"
import * as os from "node:os"
import type { Process } from "../../runtime/Runtime.js"

const stdinHighWater = 1024 * 1024
const stdinLowWater = 256 * 1024

/** `TERM`, `SIGTERM`, `term`: the names a signal frame may use (§4.4). */
const signalName = (name: string): NodeJS.Signals | undefined => {
  const upper = name.toUpperCase()
  const full = upper.startsWith("SIG") ? upper : `SIG${upper}`
  return full in os.constants.signals ? (full as NodeJS.Signals) : undefined
}

/** Resolves once the socket has flushed what it holds (or closed). */
const drained = (socket: net.Socket) =>
  Effect.async<void>((resume) => {
    if (!socket.writableNeedDrain || socket.destroyed) return resume(Effect.void)
    const done = () => {
      socket.off("drain", done)
      socket.off("close", done)
      resume(Effect.void)
    }
    socket.on("drain", done)
    socket.on("close", done)
    return Effect.sync(() => {
      socket.off("drain", done)
      socket.off("close", done)
    })
  })

const encodeText = Schema.encodeSync(Schema.parseJson(SpritesExecMessage.ServerMessage))
const decodeClientMessage = Schema.decodeUnknownOption(SpritesExecMessage.ClientMessageFromJson)

type StdinItem = Uint8Array | "eof"

/**
 * Upgrades the request and runs the exchange until the client is gone or the command's exit has
 * been sent. `process` is already running; the caller's Scope owns it.
 */
export const run = (process: Process, options: { readonly command: string; readonly stdin: boolean }) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const tcp = NodeHttpServerRequest.toIncomingMessage(request).socket
    const socket = yield* request.upgrade
    const write = yield* socket.writer

    const send = (data: Uint8Array | string) => write(data).pipe(Effect.zipRight(drained(tcp)))

    const output = Effect.gen(function*() {
      yield* send(encodeText(
        new SpritesExecMessage.SessionInfo({
          session_id: String(process.pid),
          command: options.command,
          created: Math.floor(Date.now() / 1000),
          is_owner: true,
          tty: false,
          offset: 0
        })
      ))
      yield* Stream.mergeAll([
        Stream.map(process.stdout, (data) => SpritesExecFrame.encode(SpritesExecFrame.Stdout, data)),
        Stream.map(process.stderr, (data) => SpritesExecFrame.encode(SpritesExecFrame.Stderr, data))
        // A frame is pulled once the previous one drained: at most a chunk per pipe waits here.
      ], { concurrency: 2, bufferSize: 1 }).pipe(Stream.runForEach(send))
      const exitCode = yield* process.exitCode
      yield* send(SpritesExecFrame.encodeExit(exitCode))
      yield* send(encodeText(new SpritesExecMessage.ExitMessage({ exit_code: exitCode })))
      yield* write(new Socket.CloseEvent(1000))
    })

    // Frames arrive on a Node callback; a queue keeps their order, the TCP pause bounds it.
    const stdin = yield* Queue.unbounded<StdinItem>()
    let queued = 0
    let paused = false
    const input = Effect.gen(function*() {
      while (true) {
        const item = yield* Queue.take(stdin)
        if (item === "eof") return yield* process.endStdin
        yield* process.write(item)
        queued -= item.byteLength
        if (paused && queued < stdinLowWater) {
          paused = false
          tcp.resume()
        }
      }
    })

    const onMessage = (message: string | Uint8Array) => {
      if (typeof message === "string") {
        const parsed = decodeClientMessage(message)
        if (Option.isSome(parsed) && parsed.value.type === "signal") {
          const signal = signalName(parsed.value.signal)
          if (signal !== undefined) return process.signal(signal)
        }
        // resize means nothing without a TTY; unknown text is skipped like clients skip ours
        return
      }
      const frame = SpritesExecFrame.decode(message)
      if (frame === undefined || !options.stdin) return
      if (frame._tag === "Stdin" && frame.data.byteLength > 0) {
        // ws may hand us a view of a buffer it reuses: keep a copy
        const data = frame.data.slice()
        queued += data.byteLength
        Queue.unsafeOffer(stdin, data)
        if (!paused && queued > stdinHighWater) {
          paused = true
          tcp.pause()
        }
      } else if (frame._tag === "StdinEof") {
        Queue.unsafeOffer(stdin, "eof")
      }
    }

    yield* Effect.forkScoped(output)
    if (options.stdin) yield* Effect.forkScoped(input)
    // Ends when the client closes (or drops) the socket, including after our own close 1000.
    yield* socket.runRaw(onMessage).pipe(
      Effect.catchAll((error) => Effect.logDebug(`exec socket ended: ${error.message}`))
    )
  })
