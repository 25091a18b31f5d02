/**
 * One WebSocket carrying one TCP connection: binary frames to the socket, socket bytes as binary
 * frames. Both directions keep flow control (the WebSocket side's `send` waits while its buffer
 * is full; the TCP side is read only as fast as frames go out and written with `drain`), so a
 * slow end holds bounded memory in heyod. The TCP side's EOF closes the WebSocket (1000); the
 * WebSocket's close ends the TCP side. Text frames are ignored, as the Sprites Go SDK does.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as net from "node:net"
import type { ServerSocket } from "../http/WebSocketUpgrade.js"
import * as SocketReader from "./SocketReader.js"

const write = (socket: net.Socket, data: Uint8Array) =>
  Effect.async<void>((resume) => {
    if (socket.destroyed || socket.writableEnded) return resume(Effect.void)
    if (socket.write(data)) return resume(Effect.void)
    const done = () => {
      socket.off("drain", done)
      socket.off("close", done)
      resume(Effect.void)
    }
    socket.on("drain", done)
    socket.on("close", done)
  })

/**
 * Half-closes the socket once everything written has reached the kernel: destroying it right
 * after `end()` would drop what was still buffered, the tail of the stream.
 */
export const endFlushed = (socket: net.Socket) =>
  Effect.async<void>((resume) => {
    if (socket.destroyed || socket.writableFinished) return resume(Effect.void)
    const done = () => {
      clearTimeout(timer)
      socket.off("finish", done)
      socket.off("close", done)
      resume(Effect.void)
    }
    // a peer that stopped reading must not hold the relay forever
    const timer = setTimeout(done, 5000)
    socket.once("finish", done)
    socket.once("close", done)
    socket.end()
  })

export const relay = (ws: ServerSocket, tcp: net.Socket) =>
  Effect.gen(function*() {
    tcp.setNoDelay(true)
    tcp.on("error", () => tcp.destroy())
    const fromTcp = SocketReader.chunks(tcp).pipe(
      Stream.runForEach(ws.send),
      Effect.zipRight(ws.close(1000))
    )
    const fromWs = ws.messages.pipe(
      Stream.runForEach((message) => typeof message === "string" ? Effect.void : write(tcp, message)),
      Effect.zipRight(endFlushed(tcp))
    )
    yield* Effect.raceFirst(
      Effect.all([fromTcp, fromWs], { concurrency: 2, discard: true }),
      ws.closed.pipe(Effect.zipRight(Effect.sleep("2 seconds")))
    )
  }).pipe(Effect.ensuring(Effect.sync(() => tcp.destroy())))
