/**
 * The streaming side of the bench: `Commands.stream` driven to its Exit event, its stdout
 * counted, and the transport's own ceiling, a bare `ws` loopback transfer in this process (where
 * heyod and the SDK also run, so both share one event loop like the stream does).
 */
import { Commands } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { AddressInfo } from "node:net"
import WebSocket, { WebSocketServer } from "ws"

/** Runs `command` through `Commands.stream` to its Exit; counts stdout bytes. */
export const streamBytes = (sandboxId: string, command: string) =>
  Commands.stream(sandboxId, command).pipe(
    Stream.runFold({ bytes: 0, exitCode: -1 }, (acc, event) => {
      switch (event._tag) {
        case "Stdout":
          acc.bytes += event.data.byteLength
          return acc
        case "Exit":
          acc.exitCode = event.exitCode
          return acc
        default:
          return acc
      }
    })
  )

const frameBytes = 64 * 1024
const highWater = 1024 * 1024

/**
 * A `ws` server on 127.0.0.1:0 sends `total` bytes as 64 KiB binary frames, as fast as the socket
 * drains (keeping at most ~1 MiB buffered); a `ws` client counts them. Resolves with the bytes
 * received and the milliseconds from the client's open to the last byte.
 */
export const wsLoopback = (total: number) =>
  Effect.async<{ readonly bytes: number; readonly millis: number }, Error>((resume) => {
    const frame = Buffer.alloc(frameBytes)
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false })
    let client: WebSocket | undefined
    let done = false
    const finish = (result: Effect.Effect<{ readonly bytes: number; readonly millis: number }, Error>) => {
      if (done) return
      done = true
      client?.terminate()
      server.close()
      resume(result)
    }
    server.on("connection", (socket) => {
      let sent = 0
      const pump = () => {
        while (sent < total && socket.bufferedAmount < highWater) {
          const size = Math.min(frameBytes, total - sent)
          sent += size
          socket.send(size === frameBytes ? frame : frame.subarray(0, size), { binary: true }, pump)
        }
      }
      pump()
    })
    server.on("error", (error) => finish(Effect.fail(error)))
    server.on("listening", () => {
      const { port } = server.address() as AddressInfo
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false })
      client = ws
      let bytes = 0
      let started = 0n
      ws.on("open", () => (started = process.hrtime.bigint()))
      ws.on("message", (data: WebSocket.RawData) => {
        bytes += Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength
        if (bytes >= total) finish(Effect.succeed({ bytes, millis: Number(process.hrtime.bigint() - started) / 1e6 }))
      })
      ws.on("error", (error) => finish(Effect.fail(error)))
    })
    return Effect.sync(() => finish(Effect.fail(new Error("interrupted"))))
  })
