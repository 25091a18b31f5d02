/**
 * `Tunnel.connect` for `heyo://` tickets (Heyo's hey-proxy, reference/heyo-api.md §5): one iroh
 * endpoint and one QUIC connection per tunnel, one bi stream per accepted local TCP connection,
 * raw bytes both ways. @heyo-effect/p2p (and its native module) is an optional peer dependency,
 * loaded here on first use only. The endpoint uses the loopback configuration (no relay, no
 * discovery), so it reaches endpoints on this machine. A QUIC stream reaches the peer with its
 * first byte and hey-proxy has no handshake, so a server that speaks first is reached once the
 * local client sends something.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as net from "node:net"
import * as HeyoError from "../HeyoError.js"

type P2p = typeof import("@heyo-effect/p2p")

const load = Effect.tryPromise({
  try: (): Promise<P2p> => import("@heyo-effect/p2p"),
  catch: (error) =>
    new HeyoError.Connection({
      message: `heyo:// tickets need the optional package @heyo-effect/p2p: ${error instanceof Error ? error.message : String(error)}`,
      cause: error
    })
})

export const connect = <H>(
  ticket: string,
  timeout: Duration.Duration,
  listen: (handle: (socket: net.Socket) => Effect.Effect<void>) => Effect.Effect<H, HeyoError.HttpError, Scope.Scope>
): Effect.Effect<H, HeyoError.HttpError, Scope.Scope> =>
  Effect.gen(function*() {
    const p2p = yield* load
    const endpoint = yield* p2p.P2pEndpoint.make({ connectTimeoutMs: Duration.toMillis(timeout) }).pipe(
      Effect.mapError((error) => new HeyoError.Connection({ message: error.message }))
    )
    // connecting first: a refused or dead ticket fails `connect`, not the first local connection
    const connection = yield* endpoint.connect(ticket, p2p.HEY_PROXY_ALPN).pipe(
      Effect.mapError((error) =>
        error._tag === "InvalidTicket"
          ? new HeyoError.InvalidArgument({ message: error.message })
          : new HeyoError.Connection({ message: `heyo:// tunnel: ${error.message}` })
      )
    )
    return yield* listen((socket) =>
      connection.openStream.pipe(
        Effect.flatMap((stream) => {
          socket.setNoDelay(true)
          return p2p.BiStream.splice(socket, stream)
        }),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => socket.destroy()))
      )
    )
  })
