/**
 * P2P tunnel grants (issue 6): hey-proxy (reference/heyo-api.md §5) carries no credential and an
 * EndpointTicket holds only an endpoint id and addresses, so a grant is an endpoint. Each grant
 * gets its own iroh endpoint serving ALPN `hey-proxy/tcp/0`, every accepted bi stream spliced to
 * the grant's one TCP target:
 * - a sandbox port (`tcp-tunnel`): through the same ingress path as the WebSocket tunnels
 *   (`Network.connectPort`);
 * - a service of the default network (`dial`): looked up again on every connection, so the ticket
 *   reaches that registration while it has a live route, and is revoked with it;
 * - the daemon grant: heyod's own HTTP port on 127.0.0.1 (`GET /me/daemons/:id/connection-ticket`).
 *   Requests on it pass heyod's API key check like any other; a heyod without a key is open to
 *   every holder of the ticket, which is why `--p2p production` needs a key.
 *
 * The secret key and UDP ports of each grant are kept in `<data dir>/network/p2p.json`, so its
 * `heyo://` ticket stays valid across heyod restarts; revoking a grant (or destroying its sandbox)
 * forgets its key first, then closes its endpoint.
 *
 * `ServerConfig.p2p` picks the endpoints' configuration: `loopback` (minimal preset, relays
 * disabled, bound to 127.0.0.1 and [::1]: peers on this machine only), `production` (n0 preset, or
 * one custom relay) or `off` (no endpoint; `available` is false and routes hand out `heyo+ws://`).
 */
import { BiStream, HEY_PROXY_ALPN, P2pEndpoint } from "@heyo-effect/p2p"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
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
import { Networks } from "./Networks.js"

/** A registration of the default network's services registry, as `dial` names it. */
export interface ServiceRef {
  readonly id: string
  readonly name: string
  readonly port: number
}

export interface Service {
  /** False with `--p2p off`: the ticket calls then fail with Conflict. */
  readonly available: boolean
  /** The grant's `heyo://` ticket, starting its endpoint on first use; the same one until revoked. */
  readonly ticket: (sandboxId: string, port: number) => Effect.Effect<string, HostFailure | Conflict>
  /** Forgets the grant's key and closes its endpoint; false when there was none. */
  readonly revoke: (sandboxId: string, port: number) => Effect.Effect<boolean, HostFailure>
  /** The ticket that reaches a registered service while it has a live route. */
  readonly serviceTicket: (service: ServiceRef) => Effect.Effect<string, HostFailure | Conflict>
  readonly revokeService: (service: ServiceRef) => Effect.Effect<boolean, HostFailure>
  /** The ticket that reaches heyod's own API; the same one until `revokeDaemon`. */
  readonly daemonTicket: Effect.Effect<string, HostFailure | Conflict>
  /**
   * Forgets the daemon key and refuses new connections at once; connections already open (the
   * one carrying this very request, perhaps) end `daemonRevokeGraceMs` later.
   */
  readonly revokeDaemon: Effect.Effect<boolean, HostFailure>
  /** Where the daemon grant's streams go: heyod's HTTP port, known once the server listens. */
  readonly setDaemonPort: (port: number) => Effect.Effect<void>
}

export class P2pGrants extends Context.Tag("@heyo-effect/server/P2pGrants")<P2pGrants, Service>() {}

const Stored = Schema.Struct({
  secretKey: Schema.String,
  /** The ticket holds both addresses: both ports must come back for it to stay the same. */
  udpPort: Schema.Int,
  udpPort6: Schema.Int
})
type Stored = typeof Stored.Type

const decodeStored = Schema.decodeUnknownEither(Stored)

interface Live {
  readonly ticket: string
  readonly scope: Scope.CloseableScope
  readonly stopAccepting: Effect.Effect<void>
}

/** Grant keys: `<sandbox id>:<port>`, `service:<id>:<name>:<port>`, and `daemon`. */
const daemonKey = "daemon"
const key = (sandboxId: string, port: number) => `${sandboxId}:${port}`
const serviceKey = (service: ServiceRef) => `service:${service.id}:${service.name}:${service.port}`

type Target =
  | { readonly _tag: "Daemon" }
  | { readonly _tag: "Service"; readonly service: ServiceRef }
  | { readonly _tag: "Port"; readonly sandboxId: string; readonly port: number }

const targetOf = (k: string): Target | undefined => {
  if (k === daemonKey) return { _tag: "Daemon" }
  const parts = k.split(":")
  if (parts[0] === "service" && parts.length === 4) {
    const port = Number(parts[3])
    return Number.isInteger(port) ? { _tag: "Service", service: { id: parts[1]!, name: parts[2]!, port } } : undefined
  }
  if (parts.length === 2) {
    const port = Number(parts[1])
    return Number.isInteger(port) ? { _tag: "Port", sandboxId: parts[0]!, port } : undefined
  }
  return undefined
}

/** How long a revoked daemon ticket's open connections live on (the revoking request's answer). */
const daemonRevokeGraceMs = 2_000
/** How long a daemon stream waits for heyod's HTTP port (only at start-up is it not known yet). */
const daemonPortWaitMs = 10_000

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
  const networks = yield* Networks
  const layerScope = yield* Effect.scope
  const file = path.join(config.dataDir, "network", "p2p.json")
  const stored: Record<string, Stored> = {}
  const raw = yield* Effect.try(() => JSON.parse(fs.readFileSync(file, "utf8")) as unknown).pipe(Effect.option)
  if (Option.isSome(raw) && typeof raw.value === "object" && raw.value !== null) {
    for (const [k, value] of Object.entries(raw.value)) {
      const decoded = decodeStored(value)
      if (decoded._tag === "Right" && targetOf(k) !== undefined) stored[k] = decoded.right
      else yield* Effect.logWarning(`${file}: dropping the unreadable P2P grant "${k}"`)
    }
  }
  const save = () => {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(stored), { mode: 0o600 })
    fs.renameSync(`${file}.tmp`, file)
  }
  const live = new Map<string, Live>()
  const locks = new KeyedLock()
  // sandboxes destroyed while one of their grants was starting: that start must not outlive them
  const removedSandboxes = new Set<string>()
  const daemonPort = yield* Deferred.make<number>()
  const hostFailure = (message: string) => (error: unknown) =>
    new HostFailure({ message: `${message}: ${error instanceof Error ? error.message : String(error)}` })

  const connectTarget = (target: Target): Effect.Effect<net.Socket, Error> => {
    switch (target._tag) {
      case "Daemon":
        return Deferred.await(daemonPort).pipe(
          Effect.timeoutFail({ duration: daemonPortWaitMs, onTimeout: () => new Error("heyod's HTTP port is not known") }),
          Effect.flatMap(connectLocal)
        )
      case "Service":
        return Effect.gen(function*() {
          const { id, name, port } = target.service
          // the same registration, still live: a later one under the same name is not this grant's
          const view = yield* networks.resolve(name, port)
          if (view.row.id !== id) return yield* Effect.fail(new Error(`service ${name}:${port} was registered again`))
          const route = yield* networks.route(name, port)
          return yield* network.connectPort(route.sandboxId, route.port)
        }).pipe(Effect.mapError((error) => new Error(error.message)))
      case "Port":
        return network.connectPort(target.sandboxId, target.port)
    }
  }

  const onStream = (k: string, target: Target) => (stream: Duplex) =>
    connectTarget(target).pipe(
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

  const start = (k: string, target: Target, saved: Stored | undefined, mode: "loopback" | "production") =>
    Effect.gen(function*() {
      // a child of the layer's scope: heyod's shutdown closes it whatever happens here
      const scope = yield* Scope.fork(layerScope, ExecutionStrategy.sequential)
      return yield* Effect.gen(function*() {
        const bind = (udpPort: number, udpPort6: number) =>
          P2pEndpoint.make({
            secretKey: saved === undefined ? undefined : Buffer.from(saved.secretKey, "base64"),
            config: endpointConfig({ p2p: mode, irohRelayUrl: config.irohRelayUrl }, udpPort, udpPort6)
          }).pipe(Scope.extend(scope))
        // the saved UDP port may be taken now; the endpoint id (the key) is what matters most
        const endpoint = yield* bind(saved?.udpPort ?? 0, saved?.udpPort6 ?? 0).pipe(
          Effect.orElse(() => bind(0, 0)),
          Effect.mapError(hostFailure(`starting the P2P endpoint of ${k}`))
        )
        yield* endpoint.serve(HEY_PROXY_ALPN, onStream(k, target)).pipe(Effect.forkIn(scope))
        const next: Stored = {
          secretKey: Buffer.from(endpoint.secretKey).toString("base64"),
          udpPort: udpPortOf(endpoint.boundSockets, mode === "loopback" ? "127.0.0.1" : "0.0.0.0"),
          udpPort6: udpPortOf(endpoint.boundSockets, "[::1]")
        }
        // no yield from the check to `live.set`: a destroy either saw this grant or is seen here
        yield* Effect.suspend((): Effect.Effect<void, Conflict | HostFailure> => {
          if (target._tag === "Port" && removedSandboxes.has(target.sandboxId)) {
            return Effect.fail(new Conflict({ message: `sandbox ${target.sandboxId} was destroyed` }))
          }
          const changed = saved?.secretKey !== next.secretKey || saved.udpPort !== next.udpPort || saved.udpPort6 !== next.udpPort6
          if (changed) stored[k] = next
          live.set(k, { ticket: endpoint.ticket, scope, stopAccepting: endpoint.stopAccepting })
          return changed
            ? Effect.try({ try: save, catch: hostFailure(`saving the P2P grant of ${k}`) }).pipe(
              Effect.tapError(() => Effect.sync(() => live.delete(k)))
            )
            : Effect.void
        })
        return endpoint.ticket
      }).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
    })

  const stop = (k: string) =>
    Effect.gen(function*() {
      const entry = live.get(k)
      live.delete(k)
      if (entry !== undefined) yield* Scope.close(entry.scope, Exit.void)
    })

  /** Forgets the key before closing anything: an interrupted revoke never leaves it usable. */
  const forget = (k: string) =>
    Effect.gen(function*() {
      if (stored[k] === undefined && !live.has(k)) return false
      delete stored[k]
      yield* Effect.try({ try: save, catch: hostFailure(`revoking the P2P grant of ${k}`) })
      return true
    })

  const mode = config.p2p
  if (mode !== "off") {
    // grants of the previous run: their tickets are out there
    yield* Effect.forEach(Object.entries(stored), ([k, saved]) =>
      start(k, targetOf(k)!, saved, mode).pipe(
        Effect.catchAll((error) => Effect.logWarning(error.message))
      ), { discard: true })
  }

  const removeSandbox = (sandboxId: string) =>
    Effect.gen(function*() {
      removedSandboxes.add(sandboxId)
      const keys = new Set([...Object.keys(stored), ...live.keys()])
      for (const k of keys) {
        const target = targetOf(k)
        // service grants go with their registration, which a destroyed sandbox takes along
        const gone = target?._tag === "Port"
          ? target.sandboxId === sandboxId
          : target?._tag === "Service" && Option.isNone(yield* Effect.option(networks.resolve(target.service.name, target.service.port)))
        if (gone) yield* locks.withLock(k, Effect.zipRight(Effect.ignore(forget(k)), stop(k)))
      }
    }).pipe(Effect.uninterruptible)

  const ticketOf = (k: string, target: Target) =>
    locks.withLock(
      k,
      Effect.suspend((): Effect.Effect<string, HostFailure | Conflict> => {
        if (mode === "off") return Effect.fail(new Conflict({ message: "P2P tunnels are off on this heyod (--p2p off)" }))
        const existing = live.get(k)
        return existing !== undefined ? Effect.succeed(existing.ticket) : start(k, target, stored[k], mode)
      })
    )

  const revokeKey = (k: string) =>
    locks.withLock(k, Effect.tap(forget(k), () => stop(k))).pipe(Effect.uninterruptible)

  const service: Service = {
    available: mode !== "off",
    ticket: (sandboxId, port) => ticketOf(key(sandboxId, port), { _tag: "Port", sandboxId, port }),
    revoke: (sandboxId, port) => revokeKey(key(sandboxId, port)),
    serviceTicket: (ref) => ticketOf(serviceKey(ref), { _tag: "Service", service: ref }),
    revokeService: (ref) => revokeKey(serviceKey(ref)),
    daemonTicket: Effect.gen(function*() {
      if (mode === "production" && config.apiKey === undefined) {
        return yield* new Conflict({ message: "heyod hands out no daemon ticket in production mode without an API key (--api-key)" })
      }
      if (Option.isNone(yield* Deferred.poll(daemonPort))) {
        return yield* new Conflict({ message: "heyod's HTTP port is not known yet" })
      }
      return yield* ticketOf(daemonKey, { _tag: "Daemon" })
    }),
    revokeDaemon: locks.withLock(
      daemonKey,
      Effect.gen(function*() {
        const revoked = yield* forget(daemonKey)
        const entry = live.get(daemonKey)
        live.delete(daemonKey)
        if (entry !== undefined) {
          yield* entry.stopAccepting
          yield* Scope.close(entry.scope, Exit.void).pipe(
            Effect.delay(daemonRevokeGraceMs),
            Effect.forkIn(layerScope)
          )
        }
        return revoked
      })
    ).pipe(Effect.uninterruptible),
    setDaemonPort: (port) => Effect.asVoid(Deferred.succeed(daemonPort, port))
  }
  return { service, removeSandbox }
})

/** Provides `P2pGrants` and a Runtime whose `destroy` also drops the sandbox's grants. */
export const layer: Layer.Layer<P2pGrants | Runtime, never, Runtime | Network | Networks | ServerConfig> = Layer.scopedContext(
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
