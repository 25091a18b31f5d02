/**
 * Private networks (reference/heyo-api.md §2.7): networks, members, a services registry, and
 * the one thing a registry needs on heyod to mean anything: a member sandbox reaches the services
 * of its networks by `name:port` with plain TCP, a non-member does not.
 *
 * Mechanism, loopback and namespaces only (no route, no NAT): each service name gets a fixed
 * address in 127.77.0.0/16 (NetworksStore.ts). In a running member sandbox, heyod
 * - adds `<address> <name>` lines to its /etc/hosts (a marked block, rewritten in place: the file
 *   is bubblewrap's per-start `--bind-data` copy, rewritten at every start), and
 * - runs a service forwarder in its netns (service-forwarder.cjs) listening on `<address>:<port>`
 *   for every service of its networks. Each connection goes to heyod over a unix socket that
 *   names the sandbox; heyod looks the service up again and checks, per connection, that the
 *   caller and the service's sandbox are still members of the service's network, then relays to
 *   the port inside the service's sandbox through that sandbox's ingress (Network.connectPort).
 *
 * This traffic never touches the egress proxy: the egress policy governs the way out of heyod,
 * membership governs sandbox-to-sandbox traffic. The service addresses are loopback, so the
 * proxy settings' `no_proxy` does not list them: HTTP clients that honour `http_proxy` need
 * `no_proxy` extended with the service names (plain TCP, `nc db 5432`, needs nothing).
 *
 * `layer` wraps the networked Runtime as Network.ts wraps the bare one: starts apply the
 * services, stops and destroys take them down.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as EffectRuntime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { Conflict, HostFailure, InvalidRequest } from "../engine/EngineError.js"
import { KeyedLock } from "../internal/KeyedLock.js"
import * as Netns from "../runtime/Netns.js"
import * as Prerequisites from "../runtime/Prerequisites.js"
import { Runtime, RuntimeError, type Service as RuntimeService } from "../runtime/Runtime.js"
import { ServerConfig } from "../ServerConfig.js"
import { Network } from "./Network.js"
import * as NetworksForwarder from "./NetworksForwarder.js"
import * as NetworksStore from "./NetworksStore.js"

/** No network with that id. */
export class NetworkNotFound extends Schema.TaggedError<NetworkNotFound>()("NetworkNotFound", {
  networkId: Schema.String
}) {
  override get message() {
    return `network ${this.networkId} not found`
  }
}

/** No service registered under that name and port. */
export class ServiceNotFound extends Schema.TaggedError<ServiceNotFound>()("ServiceNotFound", {
  name: Schema.String,
  port: Schema.Number
}) {
  override get message() {
    return `service ${this.name}:${this.port} not found`
  }
}

export interface ServiceView {
  readonly row: NetworksStore.ServiceRow
  /** The service's sandbox runs and both ends are members of its network. */
  readonly live: boolean
}

export interface Service {
  readonly list: Effect.Effect<ReadonlyArray<NetworksStore.NetworkRow>>
  readonly defaultNetwork: Effect.Effect<NetworksStore.NetworkRow, HostFailure>
  readonly get: (id: string) => Effect.Effect<NetworksStore.NetworkRow, NetworkNotFound>
  readonly create: (name: string, description: string | null) => Effect.Effect<NetworksStore.NetworkRow, HostFailure>
  /** The default network refuses a rename (400), as in the reference. */
  readonly update: (
    id: string,
    patch: { readonly name?: string | undefined; readonly description?: string | null | undefined }
  ) => Effect.Effect<NetworksStore.NetworkRow, NetworkNotFound | InvalidRequest | HostFailure>
  readonly remove: (id: string) => Effect.Effect<void, NetworkNotFound | InvalidRequest | HostFailure>
  readonly members: (id: string) => Effect.Effect<ReadonlyArray<NetworksStore.MemberRow>, NetworkNotFound>
  readonly addMember: (
    id: string,
    kind: string,
    ref: string,
    deviceName: string | null | undefined
  ) => Effect.Effect<NetworksStore.MemberRow, NetworkNotFound | HostFailure>
  readonly removeMember: (id: string, kind: string, ref: string) => Effect.Effect<void, NetworkNotFound | HostFailure>
  /** The services of the default network. */
  readonly services: Effect.Effect<ReadonlyArray<ServiceView>, HostFailure>
  readonly register: (
    spec: Omit<NetworksStore.ServiceRow, "id" | "networkId" | "registeredAt">
  ) => Effect.Effect<ServiceView, HostFailure>
  readonly resolve: (name: string, port: number) => Effect.Effect<ServiceView, ServiceNotFound | HostFailure>
  readonly unregister: (name: string, port: number) => Effect.Effect<void, HostFailure>
  /** The sandbox and port a live service routes to; 409 (Conflict) when it has no live route. */
  readonly route: (name: string, port: number) => Effect.Effect<
    { readonly sandboxId: string; readonly port: number },
    ServiceNotFound | Conflict | HostFailure
  >
}

export class Networks extends Context.Tag("@heyo-effect/server/Networks")<Networks, Service>() {}

const hostsBegin = "# heyo private network services: begin"
const hostsEnd = "# heyo private network services: end"

const routable = (kind: string) => kind === "local" || kind === "deployed"

interface Attached {
  readonly forwarder: NetworksForwarder.ServiceForwarder
  readonly relay: net.Server
  readonly relaySocket: string
  /** the `address:port` set last applied, to skip a no-op */
  applied: string
}

export const make = Effect.gen(function*() {
  const config = yield* ServerConfig
  const inner = yield* Runtime
  const network = yield* Network
  const nsenter = Prerequisites.which("nsenter")
  const instanceId = inner.info.instanceId
  const runDir = path.join("/run", `heyo-${instanceId}`, "svc")
  const storeDir = path.join(config.dataDir, "network")
  const store = yield* Effect.try({
    try: () => {
      fs.rmSync(runDir, { recursive: true, force: true })
      fs.mkdirSync(runDir, { recursive: true, mode: 0o700 })
      fs.mkdirSync(storeDir, { recursive: true })
      return NetworksStore.open(path.join(storeDir, "networks.json"))
    },
    catch: (error) => new HostFailure({ message: `opening the networks registry: ${String(error)}` })
  }).pipe(Effect.orDie)
  const effectRuntime = yield* Effect.runtime<never>()
  const runPromise = EffectRuntime.runPromise(effectRuntime)
  const log = (message: string) => EffectRuntime.runFork(effectRuntime)(Effect.logInfo(message))
  const attached = new Map<string, Attached>()
  const locks = new KeyedLock()

  const saving = <A>(what: string, f: () => A) =>
    Effect.try({ try: f, catch: (error) => new HostFailure({ message: `${what}: ${error instanceof Error ? error.message : String(error)}` }) })

  const isMember = (networkId: string, sandboxId: string) => store.networksOf(sandboxId).has(networkId)

  /** The services a sandbox may reach: those of every network it belongs to, live or not. */
  const reachable = (sandboxId: string) => {
    const mine = store.networksOf(sandboxId)
    return [...mine].flatMap((networkId) => store.services(networkId))
  }

  const liveRoute = (row: NetworksStore.ServiceRow) =>
    Effect.gen(function*() {
      if (!routable(row.kind) || !isMember(row.networkId, row.ref)) return false
      return yield* inner.isRunning(row.ref)
    })

  const view = (row: NetworksStore.ServiceRow) => Effect.map(liveRoute(row), (live): ServiceView => ({ row, live }))

  /** Relays one connection from a member's forwarder, after checking membership again. */
  const relayConnection = (callerId: string, client: net.Socket) => {
    client.on("error", () => client.destroy())
    let header = ""
    const onData = (chunk: Buffer) => {
      header += chunk.toString("latin1")
      const end = header.indexOf("\n")
      if (end === -1) {
        if (header.length > 64) client.destroy()
        return
      }
      client.off("data", onData)
      client.pause()
      const [address, portText] = header.slice(0, end).split(" ")
      const rest = Buffer.from(header.slice(end + 1), "latin1")
      const port = Number(portText)
      const target = reachable(callerId).find((s) => store.addressFor(s.name) === address && s.port === port)
      const refuse = (why: string) => {
        log(`private network: ${callerId} -> ${address}:${port} refused: ${why}`)
        client.destroy()
      }
      if (target === undefined) return refuse("no such service in its networks")
      if (!routable(target.kind) || !isMember(target.networkId, target.ref)) return refuse("the service's sandbox is not a member")
      runPromise(Effect.either(network.connectPort(target.ref, target.port))).then((socket) => {
        if (socket._tag === "Left") return refuse(socket.left.message)
        const upstream = socket.right
        if (client.destroyed) return upstream.destroy()
        if (rest.length > 0) upstream.write(rest)
        upstream.setNoDelay(true)
        upstream.on("error", () => client.destroy())
        client.on("error", () => upstream.destroy())
        upstream.on("close", () => upstream.readableEnded || client.destroy())
        client.on("close", () => client.readableEnded || upstream.destroy())
        upstream.pipe(client)
        client.pipe(upstream)
        upstream.resume()
        client.resume()
      }, (error) => refuse(String(error)))
    }
    client.on("data", onData)
  }

  const detachUnlocked = (id: string) =>
    Effect.promise(async () => {
      const entry = attached.get(id)
      if (entry === undefined) return
      attached.delete(id)
      await entry.forwarder.kill()
      await new Promise<void>((done) => entry.relay.close(() => done()))
      fs.rmSync(entry.relaySocket, { force: true })
    })

  const hostsBlock = (entries: ReadonlyArray<readonly [address: string, name: string]>) =>
    entries.length === 0
      ? ""
      : [hostsBegin, ...entries.map(([address, name]) => `${address}\t${name}`), hostsEnd, ""].join("\n")

  /** Sandboxes whose /etc/hosts has a block now (a fresh start has none: the file is per start). */
  const withHosts = new Set<string>()

  const writeHosts = (id: string, entries: ReadonlyArray<readonly [address: string, name: string]>) =>
    Effect.gen(function*() {
      if (entries.length === 0 && !withHosts.has(id)) return
      const current = new TextDecoder().decode(yield* inner.readFile(id, "/etc/hosts"))
      const start = current.indexOf(hostsBegin)
      const endAt = current.indexOf(hostsEnd)
      const base = start === -1 || endAt === -1
        ? current
        : current.slice(0, start) + current.slice(endAt + hostsEnd.length).replace(/^\n/, "")
      const next = (base.endsWith("\n") || base === "" ? base : base + "\n") + hostsBlock(entries)
      if (next !== current) yield* inner.writeFile(id, "/etc/hosts", new TextEncoder().encode(next))
      if (entries.length === 0) withHosts.delete(id)
      else withHosts.add(id)
    })

  /** A sandbox stopping: its next start has a fresh /etc/hosts. */
  const stopped = (id: string) => Effect.sync(() => withHosts.delete(id)).pipe(Effect.zipRight(detachUnlocked(id)))

  /** Brings a sandbox's service listeners and hosts entries in line with the registry. */
  const syncUnlocked = (id: string) =>
    Effect.gen(function*() {
      if (!(yield* inner.isRunning(id))) return yield* stopped(id)
      const services = reachable(id)
      // A sandbox reaches its own services directly on 127.0.0.1: listening for them would take
      // the port from its own server when that one binds the wildcard address.
      const remote = services.filter((s) => !(routable(s.kind) && s.ref === id))
      const remoteNames = new Set(remote.map((s) => s.name))
      const listen = [...new Set(remote.map((s) => `${store.addressFor(s.name)}:${s.port}`))].sort()
      const entries = [...new Set(services.map((s) => s.name))].sort().map((name) =>
        [remoteNames.has(name) ? store.addressFor(name) ?? "127.0.0.1" : "127.0.0.1", name] as const
      )
      let entry = attached.get(id)
      if (entry !== undefined && !entry.forwarder.alive()) {
        yield* detachUnlocked(id)
        entry = undefined
      }
      if (entry === undefined && listen.length === 0) return yield* writeHosts(id, entries)
      if (entry === undefined) {
        if (nsenter === undefined) {
          return yield* new RuntimeError({ operation: "network", sandboxId: id, message: "nsenter not found" })
        }
        const relaySocket = path.join(runDir, `${id}.services`)
        fs.rmSync(relaySocket, { force: true })
        const relay = net.createServer({ allowHalfOpen: true }, (client) => relayConnection(id, client))
        yield* Effect.async<void, RuntimeError>((resume) => {
          relay.once("error", (error) =>
            resume(Effect.fail(new RuntimeError({ operation: "network", sandboxId: id, message: `service relay: ${error.message}` }))))
          relay.listen(relaySocket, () => resume(Effect.void))
        })
        const forwarder = yield* NetworksForwarder.start({
          nsenter,
          netnsPath: Netns.pathOf(Netns.name(instanceId, id)),
          relaySocket,
          sandboxId: id,
          log
        }).pipe(Effect.tapError(() => Effect.sync(() => relay.close())))
        entry = { forwarder, relay, relaySocket, applied: "" }
        attached.set(id, entry)
      }
      const key = listen.join(",")
      if (entry.applied !== key) {
        const forwarder = entry.forwarder
        yield* Effect.tryPromise({
          try: () => forwarder.apply(listen),
          catch: (error) => new RuntimeError({ operation: "network", sandboxId: id, message: String(error) })
        })
        entry.applied = key
      }
      yield* writeHosts(id, entries)
    })

  const sync = (id: string) =>
    locks.withLock(id, syncUnlocked(id)).pipe(
      Effect.catchAll((error) => Effect.logWarning(`private network services of ${id}: ${error.message}`))
    )

  /** After a registry change: every sandbox that is, or was, in a network. */
  const syncAll = Effect.suspend(() => {
    const ids = new Set<string>(attached.keys())
    for (const row of store.networks()) {
      for (const member of store.members(row.id)) if (routable(member.kind)) ids.add(member.ref)
    }
    return Effect.forEach(ids, sync, { concurrency: 4, discard: true })
  })

  yield* Effect.addFinalizer(() =>
    Effect.forEach([...attached.keys()], detachUnlocked, { discard: true }).pipe(
      Effect.zipRight(Effect.sync(() => fs.rmSync(runDir, { recursive: true, force: true })))
    ))

  const runtime: RuntimeService = {
    ...inner,
    start: (spec) => Effect.uninterruptible(inner.start(spec).pipe(Effect.tap(() => sync(spec.id)))),
    stop: (id) => Effect.uninterruptible(locks.withLock(id, stopped(id)).pipe(Effect.zipRight(inner.stop(id)))),
    destroy: (id) =>
      Effect.uninterruptible(locks.withLock(id, stopped(id)).pipe(
        Effect.zipRight(inner.destroy(id)),
        Effect.zipRight(Effect.sync(() => store.removeSandbox(id))),
        Effect.zipRight(syncAll)
      ))
  }

  const get = (id: string) =>
    Effect.suspend(() => {
      const row = store.network(id)
      return row === undefined ? Effect.fail(new NetworkNotFound({ networkId: id })) : Effect.succeed(row)
    })

  const defaultNetwork = saving("creating the default network", () => store.defaultNetwork())

  const service: Service = {
    list: Effect.sync(() => store.networks()),
    defaultNetwork,
    get,
    create: (name, description) => saving("creating a network", () => store.create(name, description)),
    update: (id, patch) =>
      Effect.gen(function*() {
        const row = yield* get(id)
        if (row.isDefault && patch.name !== undefined && patch.name !== row.name) {
          return yield* new InvalidRequest({ message: "the default network cannot be renamed" })
        }
        return yield* saving("updating a network", () => store.update(row, patch))
      }),
    remove: (id) =>
      Effect.gen(function*() {
        const row = yield* get(id)
        if (row.isDefault) return yield* new InvalidRequest({ message: "the default network cannot be deleted" })
        yield* saving("deleting a network", () => store.remove(id))
        yield* syncAll
      }),
    members: (id) => Effect.map(get(id), (row) => store.members(row.id)),
    addMember: (id, kind, ref, deviceName) =>
      Effect.gen(function*() {
        const row = yield* get(id)
        const member = yield* saving("adding a member", () => store.addMember(row.id, kind, ref, deviceName))
        if (routable(kind)) yield* syncAll
        return member
      }),
    removeMember: (id, kind, ref) =>
      Effect.gen(function*() {
        const row = yield* get(id)
        yield* saving("removing a member", () => store.removeMember(row.id, kind, ref))
        if (routable(kind)) yield* syncAll
      }),
    services: Effect.flatMap(defaultNetwork, (row) => Effect.forEach(store.services(row.id), view)),
    register: (spec) =>
      Effect.gen(function*() {
        const row = yield* defaultNetwork
        const registered = yield* saving("registering a service", () => store.register(row.id, spec))
        yield* syncAll
        return yield* view(registered)
      }),
    resolve: (name, port) =>
      Effect.gen(function*() {
        const row = yield* defaultNetwork
        const found = store.service(row.id, name, port)
        if (found === undefined) return yield* new ServiceNotFound({ name, port })
        return yield* view(found)
      }),
    unregister: (name, port) =>
      Effect.gen(function*() {
        const row = yield* defaultNetwork
        yield* saving("removing a service", () => store.unregister(row.id, name, port))
        yield* syncAll
      }),
    route: (name, port) =>
      Effect.gen(function*() {
        const row = yield* defaultNetwork
        const found = store.service(row.id, name, port)
        if (found === undefined) return yield* new ServiceNotFound({ name, port })
        if (!(yield* liveRoute(found))) {
          return yield* new Conflict({
            message: `service ${name}:${port} has no live route: its sandbox ${found.ref} is not running or not a member of the network`
          })
        }
        return { sandboxId: found.ref, port: found.port }
      })
  }
  return { service, runtime }
})

/** Provides `Networks` and a Runtime that applies them, given the networked Runtime and Network. */
export const layer: Layer.Layer<Networks | Runtime, never, Runtime | Network | ServerConfig> = Layer.scopedContext(
  Effect.map(make, ({ runtime, service }) => Context.make(Networks, service).pipe(Context.add(Runtime, runtime)))
)

/**
 * For routes: the Networks service, or a HostFailure on a server assembled without networking
 * (the routers' unit tests run on a fake runtime and need not provide it).
 */
export const required = Effect.flatMap(
  Effect.serviceOption(Networks),
  (networks) =>
    networks._tag === "None"
      ? Effect.fail(new HostFailure({ message: "this server was assembled without networking" }))
      : Effect.succeed(networks.value)
)
