/**
 * P2P tunnel grants (issue 6): hey-proxy (reference/heyo-api.md §5) carries no credential and an
 * EndpointTicket holds only an endpoint id and addresses, so a grant is an endpoint. Each grant
 * (sandbox + port) gets its own iroh endpoint serving ALPN `hey-proxy/tcp/0`; every accepted bi
 * stream is spliced to that one TCP port inside the sandbox, through the same ingress path as the
 * WebSocket tunnels (`Network.connectPort`). The secret key and UDP port of each grant are kept in
 * `<data dir>/network/p2p.json`, so its `heyo://` ticket stays valid across heyod restarts;
 * revoking a grant (or destroying its sandbox) closes its endpoint.
 *
 * Endpoints use the loopback-safe configuration (minimal preset, relays disabled, bound to
 * 127.0.0.1): peers reach them from this machine only.
 */
import { BiStream, HEY_PROXY_ALPN, P2pEndpoint } from "@heyo-effect/p2p"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import { HostFailure } from "../engine/EngineError.js"
import { KeyedLock } from "../internal/KeyedLock.js"
import { Runtime } from "../runtime/Runtime.js"
import { ServerConfig } from "../ServerConfig.js"
import { Network } from "./Network.js"

export interface Service {
  /** The grant's `heyo://` ticket, starting its endpoint on first use; the same one until revoked. */
  readonly ticket: (sandboxId: string, port: number) => Effect.Effect<string, HostFailure>
  /** Closes the grant's endpoint and forgets its key; false when there was none. */
  readonly revoke: (sandboxId: string, port: number) => Effect.Effect<boolean, HostFailure>
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

const key = (sandboxId: string, port: number) => `${sandboxId}:${port}`

const udpPortOf = (sockets: ReadonlyArray<string>, host: string) => {
  const socket = sockets.find((s) => s.startsWith(`${host}:`))
  return socket === undefined ? 0 : Number(socket.slice(socket.lastIndexOf(":") + 1))
}

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
  const hostFailure = (message: string) => (error: unknown) =>
    new HostFailure({ message: `${message}: ${error instanceof Error ? error.message : String(error)}` })

  const onStream = (sandboxId: string, port: number) => (stream: import("node:stream").Duplex) =>
    network.connectPort(sandboxId, port).pipe(
      Effect.flatMap((tcp) => {
        tcp.setNoDelay(true)
        return BiStream.splice(stream, tcp)
      }),
      // an unreachable port resets the stream: the client sees its TCP connection closed
      Effect.catchAll((error) =>
        Effect.logInfo(`P2P tunnel to ${sandboxId}:${port}: ${error.message}`).pipe(
          Effect.zipRight(Effect.sync(() => stream.destroy()))
        ))
    )

  const start = (sandboxId: string, port: number, saved: Stored | undefined) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const bind = (udpPort: number, udpPort6: number) =>
        P2pEndpoint.make({
          secretKey: saved === undefined ? undefined : Buffer.from(saved.secretKey, "base64"),
          config: { mode: "loopback", port: udpPort, ipv6Port: udpPort6 }
        }).pipe(Scope.extend(scope))
      // the saved UDP port may be taken now; the endpoint id (the key) is what matters most
      const endpoint = yield* bind(saved?.udpPort ?? 0, saved?.udpPort6 ?? 0).pipe(
        Effect.orElse(() => bind(0, 0)),
        Effect.tapError(() => Scope.close(scope, Exit.void)),
        Effect.mapError(hostFailure(`starting the P2P endpoint of ${sandboxId}:${port}`))
      )
      yield* endpoint.serve(HEY_PROXY_ALPN, onStream(sandboxId, port)).pipe(Effect.forkIn(scope))
      const next: Stored = {
        secretKey: Buffer.from(endpoint.secretKey).toString("base64"),
        udpPort: udpPortOf(endpoint.boundSockets, "127.0.0.1"),
        udpPort6: udpPortOf(endpoint.boundSockets, "[::1]")
      }
      if (saved?.secretKey !== next.secretKey || saved.udpPort !== next.udpPort || saved.udpPort6 !== next.udpPort6) {
        stored[key(sandboxId, port)] = next
        yield* Effect.try({ try: save, catch: hostFailure(`saving the P2P grant of ${sandboxId}:${port}`) }).pipe(
          Effect.tapError(() => Scope.close(scope, Exit.void))
        )
      }
      live.set(key(sandboxId, port), { ticket: endpoint.ticket, scope })
      return endpoint.ticket
    })

  const stop = (k: string) =>
    Effect.gen(function*() {
      const entry = live.get(k)
      live.delete(k)
      if (entry !== undefined) yield* Scope.close(entry.scope, Exit.void)
    })

  // grants of the previous run: their tickets are out there
  yield* Effect.forEach(Object.entries(stored), ([k, saved]) => {
    const at = k.lastIndexOf(":")
    return start(k.slice(0, at), Number(k.slice(at + 1)), saved).pipe(
      Effect.catchAll((error) => Effect.logWarning(error.message))
    )
  }, { discard: true })
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

  const service: Service = {
    ticket: (sandboxId, port) =>
      locks.withLock(key(sandboxId, port), Effect.suspend(() => {
        const existing = live.get(key(sandboxId, port))
        return existing !== undefined ? Effect.succeed(existing.ticket) : start(sandboxId, port, stored[key(sandboxId, port)])
      })),
    revoke: (sandboxId, port) =>
      locks.withLock(key(sandboxId, port), Effect.gen(function*() {
        const k = key(sandboxId, port)
        if (stored[k] === undefined && !live.has(k)) return false
        yield* stop(k)
        delete stored[k]
        yield* Effect.try({ try: save, catch: hostFailure(`revoking the P2P grant of ${k}`) })
        return true
      }))
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
