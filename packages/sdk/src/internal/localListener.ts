/**
 * The scoped local TCP listener behind every tunnel (`Tunnel.open`, `Tunnel.connect`) and
 * `HeyoClient.layerP2p`: each accepted socket is handed to `handle`, which owns it. Closing the
 * Scope closes the listener and destroys every live connection.
 */
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as net from "node:net"
import * as HeyoError from "../HeyoError.js"

export interface ListenOptions {
  /** Default any free port. */
  readonly localPort?: number | undefined
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
}

export interface Listener {
  readonly localPort: number
  readonly host: string
  /** `http://<host>:<localPort>`. */
  readonly localUrl: string
  readonly activeConnections: () => number
}

export const listen = (handle: (socket: net.Socket) => Effect.Effect<void>, options: ListenOptions | undefined) =>
  Effect.gen(function*() {
    const host = options?.host ?? "127.0.0.1"
    const fibers = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(fibers)<never>()
    const sockets = new Set<net.Socket>()
    const server = yield* Effect.acquireRelease(
      Effect.async<net.Server, HeyoError.Connection>((resume) => {
        const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
          sockets.add(socket)
          socket.once("close", () => sockets.delete(socket))
          socket.on("error", () => socket.destroy())
          run(handle(socket))
        })
        server.once("error", (error) =>
          resume(Effect.fail(new HeyoError.Connection({ message: `cannot listen on ${host}:${options?.localPort ?? 0}: ${error.message}`, cause: error }))))
        server.listen({ host, port: options?.localPort ?? 0 }, () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          for (const socket of sockets) socket.destroy()
        })
    )
    const localPort = (server.address() as net.AddressInfo).port
    return {
      localPort,
      host,
      localUrl: `http://${host.includes(":") ? `[${host}]` : host}:${localPort}`,
      activeConnections: () => sockets.size
    } satisfies Listener
  })

