/**
 * heyod's side of a WebSocket, on `ws` directly rather than @effect/platform's upgrade, for two
 * things the platform's cannot do: headers on the 101 response (`Sprite-Version`,
 * `X-Sprite-Capabilities`: reference/sprites-api.md §3.1) and flow control both ways.
 *
 * - Incoming: messages wait in a queue; past `highWater` bytes the socket is paused, so TCP
 *   pushes back on a client that sends faster than the command reads.
 * - Outgoing: `send` returns at once while less than `highWater` bytes wait in the socket, and
 *   otherwise once they drained, so about that much is in flight: enough to keep loopback busy,
 *   bounded whatever the client's speed.
 *
 * The route's handler must not return before the socket closed: the platform answers the
 * request when it does (a closed socket makes that answer a no-op).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type * as http from "node:http"
import type * as net from "node:net"
import { WebSocket, WebSocketServer } from "ws"

const highWater = 1024 * 1024
const lowWater = highWater / 4

export interface ServerSocket {
  /** Text frames as strings, binary as bytes; ends when the socket closes. */
  readonly messages: Stream.Stream<string | Uint8Array>
  /** Sends a frame; a socket that is gone drops it (`closed` tells). */
  readonly send: (data: Uint8Array | string) => Effect.Effect<void>
  readonly close: (code: number, reason?: string) => Effect.Effect<void>
  /** Resolves once the socket is closed, by either side. */
  readonly closed: Effect.Effect<void>
  readonly isOpen: () => boolean
  /** Cuts the connection without a close frame. */
  readonly terminate: Effect.Effect<void>
}

const server = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 })

export const isUpgrade = (request: HttpServerRequest.HttpServerRequest) =>
  request.headers["upgrade"]?.toLowerCase() === "websocket"

type Item = { readonly data: string | Uint8Array; readonly size: number } | null

/** Completes the upgrade with `headers` added to the 101; the socket is closed with the Scope. */
export const accept = (headers: Readonly<Record<string, string>> = {}) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const incoming: http.IncomingMessage = NodeHttpServerRequest.toIncomingMessage(request)
    const tcp = incoming.socket as net.Socket
    // A client gone mid-handshake gets no callback from ws: the socket's close settles it instead
    // (the acquisition cannot be interrupted, so it must end by itself).
    const accepted = yield* Effect.acquireRelease(
      Effect.async<WebSocket | undefined>((resume) => {
        let settled = false
        const settle = (ws: WebSocket | undefined) => {
          if (settled) return
          settled = true
          server.off("headers", addHeaders)
          tcp.off("close", gone)
          resume(Effect.succeed(ws))
        }
        const gone = () => settle(undefined)
        const addHeaders = (lines: Array<string>, req: http.IncomingMessage) => {
          if (req !== incoming) return
          for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
        }
        if (tcp.destroyed) return settle(undefined)
        server.on("headers", addHeaders)
        tcp.once("close", gone)
        server.handleUpgrade(incoming, tcp, Buffer.alloc(0), (ws) => settle(ws))
      }),
      (ws) =>
        Effect.async<void>((resume) => {
          if (ws === undefined || ws.readyState === WebSocket.CLOSED) return resume(Effect.void)
          ws.once("close", () => resume(Effect.void))
          if (ws.readyState === WebSocket.OPEN) ws.close(1000)
          // a peer that never answers the close is cut off
          setTimeout(() => ws.terminate(), 1000).unref()
        })
    )
    // The client left before the upgrade completed: nothing to serve, as for any client abort.
    if (accepted === undefined) return yield* Effect.interrupt
    const ws = accepted
    const queue = yield* Queue.unbounded<Item>()
    let queued = 0
    let paused = false
    ws.on("message", (data, isBinary) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
      queued += buffer.byteLength
      Queue.unsafeOffer(queue, {
        data: isBinary ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : buffer.toString("utf8"),
        size: buffer.byteLength
      })
      if (!paused && queued > highWater) {
        paused = true
        ws.pause()
      }
    })
    ws.on("error", () => ws.terminate())
    const closedLatch = Effect.async<void>((resume) => {
      if (ws.readyState === WebSocket.CLOSED) return resume(Effect.void)
      ws.once("close", () => resume(Effect.void))
    })
    ws.once("close", () => Queue.unsafeOffer(queue, null))

    const take = Effect.flatMap(Queue.take(queue), (item) => {
      if (item === null) {
        Queue.unsafeOffer(queue, null)
        return Effect.fail(Option.none())
      }
      queued -= item.size
      if (paused && queued < lowWater) {
        paused = false
        ws.resume()
      }
      return Effect.succeed(item.data)
    })

    const drained = Effect.async<void>((resume) => {
      if (tcp.writableLength < highWater || tcp.destroyed) return resume(Effect.void)
      const done = () => {
        tcp.off("drain", done)
        tcp.off("close", done)
        resume(Effect.void)
      }
      tcp.on("drain", done)
      tcp.on("close", done)
      return Effect.sync(() => {
        tcp.off("drain", done)
        tcp.off("close", done)
      })
    })

    const serverSocket: ServerSocket = {
      messages: Stream.repeatEffectOption(take),
      send: (data) =>
        Effect.suspend(() => {
          if (ws.readyState !== WebSocket.OPEN) return Effect.void
          ws.send(data, { binary: typeof data !== "string" })
          return drained
        }),
      close: (code, reason) =>
        Effect.sync(() => {
          if (ws.readyState === WebSocket.OPEN) ws.close(code, reason)
        }),
      closed: closedLatch,
      isOpen: () => ws.readyState === WebSocket.OPEN,
      terminate: Effect.sync(() => ws.terminate())
    }
    return serverSocket
  })
