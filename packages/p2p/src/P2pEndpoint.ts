/**
 * A scoped iroh endpoint: serves one ALPN (each accepted bi stream handed over as a Duplex) and
 * connects to tickets (one QUIC connection per remote, one bi stream per `openStream`).
 *
 * Configuration:
 * - `loopback` (the default): `Endpoint.builder()` + `presetMinimal` (no discovery) +
 *   `RelayMode.disabled()`, bound to 127.0.0.1 and [::1] only. Peers reach it only on this
 *   machine; this is what tests, CI and heyod's default use.
 * - `production`: the n0 preset (public relays and discovery) or, with `relayUrl` (as the Heyo
 *   SDKs read `HEYO_IROH_RELAY_URL`), the minimal preset with that one relay; binds all
 *   interfaces unless `bindAddr` is given. Never used by tests.
 */
import type * as IrohTypes from "@number0/iroh/index.js"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"
import type { Duplex } from "node:stream"
import * as BiStream from "./BiStream.js"
import * as Iroh from "./Iroh.js"
import { describe, type InvalidTicket, P2pError } from "./P2pError.js"
import * as Ticket from "./Ticket.js"

export type Config =
  | {
    readonly mode: "loopback"
    /** UDP ports on 127.0.0.1 and [::1]; 0 or absent for any free one. */
    readonly port?: number | undefined
    readonly ipv6Port?: number | undefined
  }
  | { readonly mode: "production"; readonly relayUrl?: string | undefined; readonly bindAddr?: string | undefined }

export const loopback: Config = { mode: "loopback" }

export interface Options {
  /** 32 bytes; a fresh key (a new endpoint id) when absent. */
  readonly secretKey?: Uint8Array | undefined
  readonly config?: Config | undefined
  /** How long `connect` waits for a peer (iroh's own limit is 30 s). Default 10 s. */
  readonly connectTimeoutMs?: number | undefined
}

export interface Connection {
  readonly remoteId: string
  /** A new bidirectional stream; dials the peer again first if the connection was closed. */
  readonly openStream: Effect.Effect<Duplex, P2pError>
}

export interface P2pEndpoint {
  readonly id: string
  readonly secretKey: Uint8Array
  /** `heyo://<EndpointTicket>` with this endpoint's id and addresses. */
  readonly ticket: string
  /** The UDP addresses the endpoint listens on. */
  readonly boundSockets: ReadonlyArray<string>
  /**
   * Accepts connections for `alpn` until the endpoint closes; every bi stream runs `onStream` in
   * its own fiber (interrupted when the endpoint's scope closes).
   */
  readonly serve: (alpn: string, onStream: (stream: Duplex) => Effect.Effect<void>) => Effect.Effect<void>
  /**
   * Refuses every connection from now on while the ones already open carry on (a revoked grant
   * can still answer the request that revoked it); closing the scope ends those too.
   */
  readonly stopAccepting: Effect.Effect<void>
  readonly connect: (ticket: string, alpn: string) => Effect.Effect<Connection, P2pError | InvalidTicket, Scope.Scope>
}

/** How long a production endpoint waits for its home relay before handing out its ticket. */
const onlineTimeoutMs = 10_000

const bytes = (text: string) => Array.from(Buffer.from(text, "utf8"))

const failure = (what: string) => (error: unknown) => new P2pError({ message: `${what}: ${describe(error)}` })

const build = (iroh: Iroh.Module, options: Options) => {
  const builder = iroh.Endpoint.builder()
  const config = options.config ?? loopback
  if (config.mode === "loopback") {
    iroh.presetMinimal(builder)
    builder.relayMode(iroh.RelayMode.disabled())
    builder.bindAddr(`127.0.0.1:${config.port ?? 0}`)
    // without an IPv6 bind address iroh binds [::], every interface
    builder.bindAddr(`[::1]:${config.ipv6Port ?? 0}`)
  } else if (config.relayUrl !== undefined) {
    iroh.presetMinimal(builder)
    builder.relayMode(iroh.RelayMode.customFromUrls([config.relayUrl]))
    if (config.bindAddr !== undefined) builder.bindAddr(config.bindAddr)
  } else {
    iroh.presetN0(builder)
    if (config.bindAddr !== undefined) builder.bindAddr(config.bindAddr)
  }
  if (options.secretKey !== undefined) builder.secretKey(Array.from(options.secretKey))
  return builder
}

export const make = (options: Options = {}): Effect.Effect<P2pEndpoint, P2pError, Scope.Scope> =>
  Effect.gen(function*() {
    const iroh = yield* Effect.try({ try: () => Iroh.load(), catch: failure("loading @number0/iroh") })
    const endpoint = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => build(iroh, options).bind(), catch: failure("binding the iroh endpoint") }),
      (endpoint) => Effect.promise(() => endpoint.close().catch(() => undefined))
    )
    const fibers = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(fibers)<never>()
    const connectTimeout = options.connectTimeoutMs ?? 10_000
    let accepting = true
    if (options.config?.mode === "production") {
      // a ticket made before the home relay is known holds only interface addresses
      yield* Effect.tryPromise(() => endpoint.online()).pipe(
        Effect.timeout(onlineTimeoutMs),
        Effect.catchAll(() =>
          Effect.logWarning(`iroh endpoint ${endpoint.id().fmtShort()}: no home relay within ${onlineTimeoutMs} ms; its ticket holds direct addresses only`)
        )
      )
    }

    const serveConnection = (incoming: IrohTypes.Incoming, alpn: string, onStream: (s: Duplex) => Effect.Effect<void>) =>
      Effect.gen(function*() {
        const accepting = yield* Effect.tryPromise(() => incoming.accept())
        const connection = yield* Effect.tryPromise(() => accepting.connect())
        if (Buffer.from(connection.alpn()).toString("utf8") !== alpn) {
          connection.close(0n, bytes("unexpected ALPN"))
          return
        }
        yield* Effect.addFinalizer(() => Effect.sync(() => connection.close(0n, [])))
        while (true) {
          const bi = yield* Effect.tryPromise(() => connection.acceptBi())
          run(onStream(BiStream.toDuplex(bi)))
        }
      }).pipe(Effect.scoped, Effect.ignore)

    return {
      id: endpoint.id().toString(),
      secretKey: Uint8Array.from(endpoint.secretKey().toBytes()),
      ticket: Ticket.format(iroh.EndpointTicket.fromAddr(endpoint.addr()).toString()),
      boundSockets: endpoint.boundSockets(),
      serve: (alpn, onStream) =>
        Effect.gen(function*() {
          endpoint.setAlpns([bytes(alpn)])
          while (true) {
            const incoming = yield* Effect.tryPromise(() => endpoint.acceptNext()).pipe(Effect.orElseSucceed(() => null))
            // null: the endpoint is closed
            if (incoming === null) return
            if (accepting) run(serveConnection(incoming, alpn, onStream))
            else void incoming.refuse().catch(() => undefined)
          }
        }),
      stopAccepting: Effect.sync(() => {
        accepting = false
      }),
      connect: (ticket, alpn) =>
        Effect.gen(function*() {
          const addr = yield* Ticket.parse(ticket)
          const peer = addr.id().fmtShort()
          const dial = Effect.async<IrohTypes.Connection, P2pError>((resume) => {
            let abandoned = false
            endpoint.connect(addr, bytes(alpn)).then(
              (connection) => {
                // a connection that lands after a timeout or interruption has no owner: close it
                if (abandoned) connection.close(0n, [])
                else resume(Effect.succeed(connection))
              },
              (error) => resume(Effect.fail(failure(`connecting to ${peer}`)(error)))
            )
            return Effect.sync(() => {
              abandoned = true
            })
          }).pipe(Effect.timeoutFail({
            duration: connectTimeout,
            onTimeout: () => new P2pError({ message: `connecting to ${peer}: no answer in ${connectTimeout} ms` })
          }))
          const current = yield* SynchronizedRef.make(yield* dial)
          yield* Effect.addFinalizer(() => Effect.map(SynchronizedRef.get(current), (c) => c.close(0n, [])))
          const open = (connection: IrohTypes.Connection) =>
            Effect.tryPromise({ try: () => connection.openBi(), catch: failure("opening a stream") })
          // A peer that restarted or went away closed the connection: the next stream dials again
          // (once), so a long-lived tunnel outlives the peer's restart.
          const redial = SynchronizedRef.updateAndGetEffect(current, (connection) =>
            connection.closeReason() === null
              ? Effect.succeed(connection)
              : Effect.map(dial, (fresh) => {
                connection.close(0n, [])
                return fresh
              }))
          return {
            remoteId: addr.id().toString(),
            openStream: SynchronizedRef.get(current).pipe(
              Effect.flatMap((connection) =>
                connection.closeReason() === null ? open(connection) : Effect.fail(new P2pError({ message: "closed" }))
              ),
              Effect.orElse(() => Effect.flatMap(redial, open)),
              Effect.map(BiStream.toDuplex)
            )
          } satisfies Connection
        })
    } satisfies P2pEndpoint
  })
