/**
 * P2P tunnel grants (issue 6): hey-proxy (reference/heyo-api.md §5) carries no credential and an
 * EndpointTicket holds only an endpoint id and addresses, so a grant is an endpoint. Each grant
 * gets its own iroh endpoint serving ALPN `hey-proxy/tcp/0`, every accepted bi stream spliced to
 * the grant's one TCP target:
 * - a sandbox port: through the same ingress path as the WebSocket tunnels (`Network.connectPort`);
 * - the daemon grant: heyod's own HTTP port on 127.0.0.1, so a client can drive heyod over P2P
 *   (`GET /me/daemons/:id/connection-ticket`). Requests on it still need heyod's API key.
 *
 * The secret key and UDP ports of each grant are kept in `<data dir>/network/p2p.json`, so its
 * `heyo://` ticket stays valid across heyod restarts; revoking a grant (or destroying its sandbox)
 * closes its endpoint and forgets its key.
 *
 * `ServerConfig.p2p` picks the endpoints' configuration: `loopback` (minimal preset, relays
 * disabled, bound to 127.0.0.1 and [::1]: peers on this machine only), `production` (n0 preset, or
 * one custom relay) or `off` (no endpoint; `available` is false and routes hand out `heyo+ws://`).
 */
import { BiStream, HEY_PROXY_ALPN, P2pEndpoint } from "@heyo-effect/p2p"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import type { Duplex } from "node:stream"
import { Conflict, HostFailure } from "../engine/EngineError.js"
import { KeyedLock } from "../internal/KeyedLock.js"
import { Runtime } from "../runtime/Runtime.js"
import { ServerConfig } from "../ServerConfig.js"
import { Network } from "./Network.js"

export interface Service {
  /** False with `--p2p off`: `ticket` and `daemonTicket` then fail with Conflict. */
  readonly available: boolean
  /** The grant's `heyo://` ticket, starting its endpoint on first use; the same one until revoked. */
  readonly ticket: (sandboxId: string, port: number) => Effect.Effect<string, HostFailure | Conflict>
  /** Closes the grant's endpoint and forgets its key; false when there was none. */
  readonly revoke: (sandboxId: string, port: number) => Effect.Effect<boolean, HostFailure>
  /** The ticket that reaches heyod's own API; the same one until `revokeDaemon`. */
  readonly daemonTicket: Effect.Effect<string, HostFailure | Conflict>
  /** Closes the daemon endpoint: its ticket stops working and the next one has a new endpoint id. */
  readonly revokeDaemon: Effect.Effect<boolean, HostFailure>
  /** Where the daemon grant's streams go: heyod's HTTP port, known once the server listens. */
  readonly setDaemonPort: (port: number) => Effect.Effect<void>
}

export class P2pGrants extends Context.Tag("@heyo-effect/server/P2pGrants")<P2pGrants, Service>() {}

interface Stored {
  readonly secretKey: string
  /** The ticket holds both addresses: both ports must come back for it to stay the same. */
  readonly udpPort: number
  readonly udpPort6: number
}

interface Live {
  readonly ticket: string
  readonly scope: Scope.CloseableScope
}

/** Stored keys: `<sandbox id>:<port>`, and this one (no colon, so never a sandbox's). */
const daemonKey = "daemon"

const key = (sandboxId: string, port: number) => `${sandboxId}:${port}`

const udpPortOf = (sockets: ReadonlyArray<string>, host: string) => {
  const socket = sockets.find((s) => s.startsWith(`${host}:`))
  return socket === undefined ? 0 : Number(socket.slice(socket.lastIndexOf(":") + 1))
}

const endpointConfig = (
  options: { readonly p2p: "loopback" | "production"; readonly irohRelayUrl: string | undefined },
  udpPort: number,
  udpPort6: number
): P2pEndpoint.Config =>
  options.p2p === "loopback"
    ? { mode: "loopback", port: udpPort, ipv6Port: udpPort6 }
    : { mode: "production", relayUrl: options.irohRelayUrl, bindAddr: udpPort === 0 ? undefined : `0.0.0.0:${udpPort}` }

const connectLocal = (port: number) =>
  Effect.async<net.Socket, Error>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    const onError = (error: Error) => resume(Effect.fail(error))
    socket.once("error", onError)
    socket.once("connect", () => {
      socket.off("error", onError)
      resume(Effect.succeed(socket))
    })
    return Effect.sync(() => socket.destroy())
  })

export const make = Effect.gen(function*() {
  const config = yield* ServerConfig
  const network = yield* Network
  const file = path.join(config.dataDir, "network", "p2p.json")
  let stored: Record<string, Stored> = {}
  try {
    stored = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, Stored>
  } catch {
    stored = {}
  }
  const save = () => {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(stored), { mode: 0o600 })
    fs.renameSync(`${file}.tmp`, file)
  }
  const live = new Map<string, Live>()
  const locks = new KeyedLock()
  const daemonPort = yield* Deferred.make<number>()
  const hostFailure = (message: string) => (error: unknown) =>
    new HostFailure({ message: `${message}: ${error instanceof Error ? error.message : String(error)}` })

  const target = (k: string): Effect.Effect<net.Socket, Error> => {
    if (k === daemonKey) return Effect.flatMap(Deferred.await(daemonPort), connectLocal)
    const at = k.lastIndexOf(":")
    return network.connectPort(k.slice(0, at), Number(k.slice(at + 1)))
  }

  const onStream = (k: string) => (stream: Duplex) =>
    target(k).pipe(
      Effect.flatMap((tcp) => {
        tcp.setNoDelay(true)
        return BiStream.splice(stream, tcp)
      }),
      // an unreachable target resets the stream: the client sees its TCP connection closed
      Effect.catchAll((error) =>
        Effect.logInfo(`P2P tunnel to ${k}: ${error.message}`).pipe(
          Effect.zipRight(Effect.sync(() => stream.destroy()))
        ))
    )

  const start = (k: string, saved: Stored | undefined, mode: "loopback" | "production") =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const bind = (udpPort: number, udpPort6: number) =>
        P2pEndpoint.make({
          secretKey: saved === undefined ? undefined : Buffer.from(saved.secretKey, "base64"),
          config: endpointConfig({ p2p: mode, irohRelayUrl: config.irohRelayUrl }, udpPort, udpPort6)
        }).pipe(Scope.extend(scope))
      // the saved UDP port may be taken now; the endpoint id (the key) is what matters most
      const endpoint = yield* bind(saved?.udpPort ?? 0, saved?.udpPort6 ?? 0).pipe(
        Effect.orElse(() => bind(0, 0)),
        Effect.tapError(() => Scope.close(scope, Exit.void)),
        Effect.mapError(hostFailure(`starting the P2P endpoint of ${k}`))
      )
      yield* endpoint.serve(HEY_PROXY_ALPN, onStream(k)).pipe(Effect.forkIn(scope))
      const next: Stored = {
        secretKey: Buffer.from(endpoint.secretKey).toString("base64"),
        udpPort: udpPortOf(endpoint.boundSockets, mode === "loopback" ? "127.0.0.1" : "0.0.0.0"),
        udpPort6: udpPortOf(endpoint.boundSockets, "[::1]")
      }
      if (saved?.secretKey !== next.secretKey || saved.udpPort !== next.udpPort || saved.udpPort6 !== next.udpPort6) {
        stored[k] = next
        yield* Effect.try({ try: save, catch: hostFailure(`saving the P2P grant of ${k}`) }).pipe(
          Effect.tapError(() => Scope.close(scope, Exit.void))
        )
      }
      live.set(k, { ticket: endpoint.ticket, scope })
      return endpoint.ticket
    })

  const stop = (k: string) =>
    Effect.gen(function*() {
      const entry = live.get(k)
      live.delete(k)
      if (entry !== undefined) yield* Scope.close(entry.scope, Exit.void)
    })

  const mode = config.p2p
  if (mode !== "off") {
    // grants of the previous run: their tickets are out there
    yield* Effect.forEach(Object.entries(stored), ([k, saved]) =>
      start(k, saved, mode).pipe(
        Effect.catchAll((error) => Effect.logWarning(error.message))
      ), { discard: true })
  }
  yield* Effect.addFinalizer(() => Effect.forEach([...live.keys()], stop, { discard: true }))

  const removeSandbox = (sandboxId: string) =>
    Effect.gen(function*() {
      const keys = Object.keys(stored).filter((k) => k.startsWith(`${sandboxId}:`))
      for (const k of keys) {
        yield* stop(k)
        delete stored[k]
      }
      if (keys.length > 0) yield* Effect.sync(() => save()).pipe(Effect.catchAllDefect(() => Effect.void))
    })

  const ticketOf = (k: string) =>
    locks.withLock(
      k,
      Effect.suspend((): Effect.Effect<string, HostFailure | Conflict> => {
        if (mode === "off") return Effect.fail(new Conflict({ message: "P2P tunnels are off on this heyod (--p2p off)" }))
        const existing = live.get(k)
        return existing !== undefined ? Effect.succeed(existing.ticket) : start(k, stored[k], mode)
      })
    )

  const revokeKey = (k: string) =>
    locks.withLock(
      k,
      Effect.gen(function*() {
        if (stored[k] === undefined && !live.has(k)) return false
        yield* stop(k)
        delete stored[k]
        yield* Effect.try({ try: save, catch: hostFailure(`revoking the P2P grant of ${k}`) })
        return true
      })
    )

  const service: Service = {
    available: mode !== "off",
    ticket: (sandboxId, port) => ticketOf(key(sandboxId, port)),
    revoke: (sandboxId, port) => revokeKey(key(sandboxId, port)),
    daemonTicket: ticketOf(daemonKey),
    revokeDaemon: revokeKey(daemonKey),
    setDaemonPort: (port) => Effect.asVoid(Deferred.succeed(daemonPort, port))
  }
  return { service, removeSandbox }
})

/** Provides `P2pGrants` and a Runtime whose `destroy` also drops the sandbox's grants. */
export const layer: Layer.Layer<P2pGrants | Runtime, never, Runtime | Network | ServerConfig> = Layer.scopedContext(
  Effect.gen(function*() {
    const runtime = yield* Runtime
    const { removeSandbox, service } = yield* make
    return Context.make(P2pGrants, service).pipe(Context.add(Runtime, {
      ...runtime,
      destroy: (id: string) => runtime.destroy(id).pipe(Effect.zipRight(removeSandbox(id)))
    }))
  })
)

/** For routes: P2pGrants, or undefined on a server assembled without networking. */
export const optional = Effect.serviceOption(P2pGrants)
