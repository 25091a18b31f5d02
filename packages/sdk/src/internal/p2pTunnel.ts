/**
 * Tunnels for `heyo://` tickets (Heyo's hey-proxy, reference/heyo-api.md §5): one iroh endpoint
 * and one QUIC connection per tunnel, one bi stream per accepted local TCP connection, raw bytes
 * both ways. @heyo-effect/p2p (and its native module) is an optional peer dependency, loaded here
 * on first use only. A QUIC stream reaches the peer with its first byte and hey-proxy has no
 * handshake, so a server that speaks first is reached once the local client sends something.
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as net from "node:net"
import * as HeyoError from "../HeyoError.js"

type P2p = typeof import("@heyo-effect/p2p")

/** How a client's iroh endpoint reaches peers. @since 0.1.0 */
export interface P2pOptions {
  /**
   * `"loopback"` (the default): no relay and no discovery, bound to 127.0.0.1, so it reaches
   * peers on this machine only (heyod's default). `"production"`: iroh's n0 preset (public
   * relays and discovery), or only `irohRelayUrl` when given.
   */
  readonly network?: "loopback" | "production" | undefined
  /**
   * With `network: "production"`: this iroh relay instead of the n0 preset's. Defaults to the
   * `HEYO_IROH_RELAY_URL` config value, as in the Heyo SDKs.
   */
  readonly irohRelayUrl?: string | undefined
  /**
   * The ticket broker that resolves bare short codes (`heyo://<code>`), as Heyo's `relay`
   * argument; `heyo://host:port/<code>` names its broker itself.
   */
  readonly relay?: string | undefined
}

// A specifier bundlers cannot follow: bundling the SDK must not pull in the native module.
const p2pPackage = "@heyo-effect/p2p"

const load = Effect.tryPromise({
  try: () => import(p2pPackage) as Promise<P2p>,
  catch: (error) =>
    new HeyoError.Connection({
      message: `heyo:// tickets need the optional package @heyo-effect/p2p: ${error instanceof Error ? error.message : String(error)}`,
      cause: error
    })
})

const ticketError = (error: { readonly _tag: "InvalidTicket" | "P2pError"; readonly message: string }) =>
  error._tag === "InvalidTicket"
    ? new HeyoError.InvalidArgument({ message: error.message })
    : new HeyoError.Connection({ message: `heyo:// tunnel: ${error.message}` })

export const connect = <H>(
  ticket: string,
  timeout: Duration.Duration,
  options: P2pOptions | undefined,
  listen: (handle: (socket: net.Socket) => Effect.Effect<void>) => Effect.Effect<H, HeyoError.HttpError, Scope.Scope>
): Effect.Effect<H, HeyoError.HttpError, Scope.Scope> =>
  Effect.gen(function*() {
    const p2p = yield* load
    const timeoutMs = Duration.toMillis(timeout)
    const full = yield* p2p.Ticket.resolve(ticket, { relay: options?.relay, timeoutMs }).pipe(Effect.mapError(ticketError))
    const relayUrl = options?.network === "production" && options.irohRelayUrl === undefined
      ? Option.getOrUndefined(Option.filter(
        yield* Config.option(Config.string("HEYO_IROH_RELAY_URL")).pipe(Effect.orElseSucceed(Option.none)),
        (url) => url !== ""
      ))
      : options?.irohRelayUrl
    const endpoint = yield* p2p.P2pEndpoint.make({
      connectTimeoutMs: timeoutMs,
      config: options?.network === "production" ? { mode: "production", relayUrl } : p2p.P2pEndpoint.loopback
    }).pipe(Effect.mapError((error) => new HeyoError.Connection({ message: error.message })))
    // connecting first: a refused or dead ticket fails `connect`, not the first local connection
    const connection = yield* endpoint.connect(full, p2p.HEY_PROXY_ALPN).pipe(Effect.mapError(ticketError))
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
