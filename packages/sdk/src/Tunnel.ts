/**
 * TCP tunnels to ports inside a sandbox, as scoped local listeners (our `P2pTunnel`).
 *
 * A tunnel is a TCP listener on the local machine (127.0.0.1 by default, any free port unless
 * `localPort` is given). Every connection it accepts rides its own WebSocket to heyod, which
 * connects to the port inside the sandbox: bytes pass untouched both ways, with flow control end
 * to end. Closing the Scope closes the listener and every live connection.
 *
 * - `open(sandboxId, port)`: through the Sprites TCP proxy (`WSS /v1/sprites/{id}/proxy`,
 *   reference/sprites-api.md §2.12) with the client's API key.
 * - `ticket(sandboxId, port)`: Heyo `POST /sandboxes/:id/tcp-tunnel`, by default a `heyo://` iroh
 *   ticket (Heyo's hey-proxy: one iroh bi stream per TCP connection, raw bytes), or with
 *   `{ transport: "ws" }` a `heyo+ws://` ticket (heyod's address, the sandbox, the port and a
 *   revocable grant). The same ticket until revoked. `connect(ticket)` needs nothing else: no
 *   client, no API key; it picks the transport from the scheme. `heyo://` loads the optional peer
 *   dependency `@heyo-effect/p2p` (a native module) on first use only.
 *
 * Needs the `tunnels` extension in `GET /capabilities`; a server without it fails with
 * `Unsupported`.
 *
 * @since 0.1.0
 */
import { HeyoTunnel, SpritesTunnelProxy } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as net from "node:net"
import { HeyoClient, path } from "./HeyoClient.js"
import * as HeyoError from "./HeyoError.js"
import { statusError } from "./internal/http.js"
import { listen } from "./internal/localListener.js"
import * as NetworkSocket from "./internal/networkSocket.js"
import * as P2pTunnel from "./internal/p2pTunnel.js"
import * as WebSocket from "./internal/webSocket.js"

/** The server-side extension these calls need. @since 0.1.0 */
export const FEATURE = "tunnels"

/** @since 0.1.0 */
export interface Options {
  /** Local port to listen on; default any free port. */
  readonly localPort?: number | undefined
  /** Local address to listen on; default `127.0.0.1`. */
  readonly host?: string | undefined
  /** For `heyo://` tickets: how the iroh endpoint reaches peers (loopback only by default), and the short-code broker. */
  readonly p2p?: P2pTunnel.P2pOptions | undefined
}

/** @since 0.1.0 */
export type P2pOptions = P2pTunnel.P2pOptions

/** A live tunnel: connect to `localPort` to reach the sandbox's port. @since 0.1.0 */
export interface TunnelHandle {
  readonly localPort: number
  readonly host: string
  /** `http://<host>:<localPort>`. */
  readonly localUrl: string
  /** Connections currently carried. */
  readonly activeConnections: () => number
}

/** @since 0.1.0 */
export interface TicketOptions {
  /** `"iroh"` (heyod's default): a `heyo://` ticket; `"ws"`: a `heyo+ws://` ticket. */
  readonly transport?: "iroh" | "ws" | undefined
}

/** @since 0.1.0 */
export type TunnelError = HeyoError.HttpError | HeyoError.Unsupported

/** @since 0.1.0 */
export interface Service {
  readonly open: (sandboxId: string, port: number, options?: Options) => Effect.Effect<TunnelHandle, TunnelError, Scope.Scope>
  /** A ticket for the port (`heyo://` by default); the same one on every call until revoked. */
  readonly ticket: (sandboxId: string, port: number, options?: TicketOptions) => Effect.Effect<string, TunnelError>
  /** Revokes the port's ticket: connections with it are refused from then on. */
  readonly revoke: (sandboxId: string, port: number) => Effect.Effect<void, TunnelError>
  /** A tunnel from a ticket alone (no API key is sent). */
  readonly connect: (ticket: string, options?: Options) => Effect.Effect<TunnelHandle, HeyoError.HttpError, Scope.Scope>
}

/** @since 0.1.0 */
export class Tunnel extends Context.Tag("@heyo-effect/sdk/Tunnel")<Tunnel, Service>() {}

type Dial = Effect.Effect<WebSocket.Connection, HeyoError.HttpError, Scope.Scope>

const writeAll = (socket: net.Socket, data: Uint8Array) =>
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
const endFlushed = (socket: net.Socket) =>
  Effect.async<void>((resume) => {
    if (socket.destroyed || socket.writableFinished) return resume(Effect.void)
    const done = () => {
      clearTimeout(timer)
      socket.off("finish", done)
      socket.off("close", done)
      resume(Effect.void)
    }
    // a peer that stopped reading must not hold the tunnel forever
    const timer = setTimeout(done, 5000)
    socket.once("finish", done)
    socket.once("close", done)
    socket.end()
  })

/** One accepted connection over one WebSocket; ends when either side does. */
const carry = (socket: net.Socket, dial: Dial) =>
  Effect.scoped(Effect.gen(function*() {
    socket.setNoDelay(true)
    const ws = yield* dial
    const up = NetworkSocket.chunks(socket).pipe(Stream.runForEach(ws.send), Effect.ignore)
    const down = ws.messages.pipe(
      Stream.runForEach((message) => typeof message === "string" ? Effect.void : writeAll(socket, message)),
      Effect.ignore,
      Effect.zipRight(endFlushed(socket))
    )
    // local EOF closes the WebSocket (the Scope); the remote end's close ends the local socket
    yield* Effect.raceFirst(up, down)
  })).pipe(
    Effect.ignore,
    Effect.ensuring(Effect.sync(() => socket.destroy()))
  )

/**
 * A refused ticket fails `connect`, not the first accepted connection, without opening a
 * connection to the port: heyod answers a plain GET on a ticket's path with 400 (needs an
 * upgrade) once the grant is valid, 401 otherwise.
 */
const checkTicket = (ticket: HeyoTunnel.Ticket, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const call = `GET ${HeyoTunnel.socketPath(ticket)}`
    const url = `${ticket.baseUrl}${HeyoTunnel.socketPath(ticket)}?grant=${ticket.grant}`
    const response = yield* Effect.tryPromise({
      try: (signal) => fetch(url, { signal }).then(async (r) => ({ status: r.status, text: await r.text(), headers: r.headers })),
      catch: (error) => new HeyoError.Connection({ message: `cannot reach ${ticket.baseUrl} (calling ${call}): ${String(error)}`, cause: error })
    }).pipe(Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new HeyoError.Timeout({ message: `no answer (calling ${call})`, timeout })
    }))
    if (response.status === 400) return
    return yield* Effect.flatMap(
      statusError(call, response.status, response.text, Object.fromEntries(response.headers.entries())),
      Effect.fail
    )
  })

const encodeInit = Schema.encodeSync(SpritesTunnelProxy.ProxyInitFromJson)
const decodeStatus = Schema.decodeUnknownOption(SpritesTunnelProxy.ProxyStatusFromJson)

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.gen(function*() {
  const client = yield* HeyoClient

  const spritesDial = (sandboxId: string, port: number): Dial =>
    Effect.gen(function*() {
      const call = `WSS /v1/sprites/${sandboxId}/proxy`
      const ws = yield* client.webSocket({ path: path`/v1/sprites/${sandboxId}/proxy` })
      yield* ws.send(encodeInit(new SpritesTunnelProxy.ProxyInit({ host: "localhost", port })))
      const first = yield* ws.messages.pipe(
        Stream.filter((m): m is string => typeof m === "string"),
        Stream.runHead,
        Effect.timeoutFail({
          duration: client.timeout,
          onTimeout: () => new HeyoError.Timeout({ message: `no proxy status (calling ${call})`, timeout: client.timeout })
        })
      )
      const status = Option.flatMap(first, decodeStatus)
      if (Option.isNone(status) || status.value.status !== "connected") {
        const message = Option.match(status, { onNone: () => "the proxy closed without a status", onSome: (s) => s.message ?? s.status })
        return yield* new HeyoError.Connection({ message: `port ${port} of ${sandboxId}: ${message} (calling ${call})` })
      }
      return ws
    })

  const ticketRoute = (sandboxId: string) => path`/sandboxes/${sandboxId}/tcp-tunnel`

  return {
    open: Effect.fn("Tunnel.open")(function*(sandboxId: string, port: number, options?: Options) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      yield* client.requireFeature(FEATURE)
      return yield* listen((socket) => carry(socket, spritesDial(sandboxId, port)), options)
    }),
    ticket: Effect.fn("Tunnel.ticket")(function*(sandboxId: string, port: number, options?: TicketOptions) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      yield* client.requireFeature(FEATURE)
      const response = yield* client.json(HeyoTunnel.TcpTunnelResponse, {
        method: "POST",
        path: ticketRoute(sandboxId),
        body: options?.transport === undefined ? { port } : { port, transport: options.transport },
        idempotent: true
      })
      return response.connectionUrl
    }),
    revoke: Effect.fn("Tunnel.revoke")(function*(sandboxId: string, port: number) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      yield* client.requireFeature(FEATURE)
      yield* client.execute({ method: "DELETE", path: `${ticketRoute(sandboxId)}/${port}` })
    }),
    connect: Effect.fn("Tunnel.connect")(function*(ticket: string, options?: Options) {
      if (ticket.startsWith("heyo://")) return yield* P2pTunnel.connect(ticket, client.timeout, options?.p2p, (handle) => listen(handle, options))
      const parsed = HeyoTunnel.parseTicket(ticket)
      if (parsed === undefined) {
        return yield* new HeyoError.InvalidArgument({
          message: `not a heyo+ws:// tunnel ticket: ${ticket.slice(0, 40)}${ticket.startsWith("heyo://") ? " (heyo:// is an iroh ticket)" : ""}`
        })
      }
      const dial: Dial = WebSocket.connect(
        { baseUrl: parsed.baseUrl, apiKey: Option.none(), timeout: client.timeout },
        { path: HeyoTunnel.socketPath(parsed), query: [["grant", parsed.grant]] }
      )
      yield* checkTicket(parsed, client.timeout)
      return yield* listen((socket) => carry(socket, dial), options)
    })
  }
})

/** @since 0.1.0 */
export const layer: Layer.Layer<Tunnel, never, HeyoClient> = Layer.effect(Tunnel, make)

/** @since 0.1.0 */
export const open = (sandboxId: string, port: number, options?: Options) =>
  Effect.flatMap(Tunnel, (t) => t.open(sandboxId, port, options))
/** @since 0.1.0 */
export const ticket = (sandboxId: string, port: number, options?: TicketOptions) =>
  Effect.flatMap(Tunnel, (t) => t.ticket(sandboxId, port, options))
/** @since 0.1.0 */
export const revoke = (sandboxId: string, port: number) => Effect.flatMap(Tunnel, (t) => t.revoke(sandboxId, port))
/** @since 0.1.0 */
export const connect = (ticketUrl: string, options?: Options) => Effect.flatMap(Tunnel, (t) => t.connect(ticketUrl, options))
