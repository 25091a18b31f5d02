/**
 * Sandbox networking in heyod (reference/runtime.md §5 mode A): the sandbox's network namespace
 * has only loopback, no route and no NAT; its one way out is a forwarder on 127.0.0.1:3128 inside
 * it, piped to heyod's egress proxy (EgressProxy.ts) over a unix socket that names the sandbox.
 * Every command gets `http_proxy`/`https_proxy` (both cases) pointing there (ProxyEnv.ts).
 *
 * This module holds the per-sandbox state (policies, bound ports, tunnel grants: JSON files under
 * `<data dir>/network/`, so they survive restarts, deleted with the sandbox), attaches the
 * forwarder and proxy to a sandbox whenever the runtime starts it, and reaches ports inside it
 * through the forwarder (`connectPort`, for tunnels and bound URLs) or reads them (`listeners`). It does so by wrapping the Runtime service: `layer`
 * takes the bare runtime and provides both `Network` and the networked `Runtime`, so the engine
 * above needs no change to get networking.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as EffectRuntime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { HostFailure } from "../engine/EngineError.js"
import { KeyedLock } from "../internal/KeyedLock.js"
import * as Netns from "../runtime/Netns.js"
import * as Prerequisites from "../runtime/Prerequisites.js"
import { Runtime, RuntimeError, type Service as RuntimeService } from "../runtime/Runtime.js"
import { ServerConfig } from "../ServerConfig.js"
import * as EgressProxy from "./EgressProxy.js"
import * as Forwarder from "./Forwarder.js"
import * as Policy from "./Policy.js"
import { proxyEnv } from "./ProxyEnv.js"
import * as Resolver from "./Resolver.js"
import * as Tunnels from "./Tunnels.js"
import * as BoundPorts from "./BoundPorts.js"
import * as PortWatch from "./PortWatch.js"

/** Where the sandbox reads its current policy (as on Sprites). */
export const policyFileInSandbox = "/.sprite/policy/network.json"

export interface Service {
  readonly getPolicy: (sandboxId: string) => Effect.Effect<Policy.Policy>
  /**
   * Replaces the policy. It applies at once: new requests see it, open connections to names it
   * now denies are cut, and the sandbox's copy of the file is rewritten.
   */
  readonly setPolicy: (sandboxId: string, policy: Policy.Policy) => Effect.Effect<void, HostFailure>
  /**
   * At create: the given policy, else heyod's default for new sandboxes (`egressDefault`); the
   * `open_ports` bound as public URLs.
   */
  readonly initialize: (
    sandboxId: string,
    spec: { readonly policy: Policy.Policy | undefined; readonly openPorts: ReadonlyArray<number> }
  ) => Effect.Effect<void, HostFailure>
  /**
   * A TCP connection to 127.0.0.1:`port` inside the running sandbox, through its forwarder.
   * Fails when the sandbox is not running or nothing listens there.
   */
  readonly connectPort: (sandboxId: string, port: number) => Effect.Effect<net.Socket, PortUnreachable>
  /** Open egress connections of a sandbox (requests in flight and tunnels). */
  readonly openConnections: (sandboxId: string) => number
  /** The tunnel grant for a sandbox port: the same one until revoked (kept across restarts). */
  readonly tunnelGrant: (sandboxId: string, port: number) => Effect.Effect<string, HostFailure>
  /** Revokes a port's grant; false when there was none. */
  readonly revokeTunnel: (sandboxId: string, port: number) => Effect.Effect<boolean, HostFailure>
  /** Whether `grant` is the live grant of that sandbox port (constant-time). */
  readonly checkTunnelGrant: (sandboxId: string, port: number, grant: string) => boolean
  /** Serves a sandbox port at its bound URL; again with another `isPublic` changes only that. */
  readonly bindPort: (sandboxId: string, port: number, isPublic: boolean) => Effect.Effect<BoundPorts.Binding, HostFailure>
  readonly boundPorts: (sandboxId: string) => ReadonlyArray<BoundPorts.Binding>
  readonly bindingFor: (subdomain: string) => BoundPorts.Binding | undefined
  /** TCP listeners inside the sandbox now; undefined when it is not running. */
  readonly listeners: (sandboxId: string) => ReadonlyArray<PortWatch.Listener> | undefined
}

/** Nothing accepted a connection on that port inside the sandbox (or it is not running). */
export class PortUnreachable extends Schema.TaggedError<PortUnreachable>()("PortUnreachable", {
  sandboxId: Schema.String,
  port: Schema.Number,
  message: Schema.String
}) {}

export class Network extends Context.Tag("@heyo-effect/server/Network")<Network, Service>() {}

interface Attached {
  readonly netnsInode: number
  readonly proxy: EgressProxy.EgressProxy
  readonly forwarder: Forwarder.Forwarder
  readonly ingressSocket: string
}

const encodePolicy = (policy: Policy.Policy) => JSON.stringify({ rules: policy.rules }, null, 2) + "\n"

export const make = Effect.gen(function*() {
  const config = yield* ServerConfig
  const raw = yield* Runtime
  const nsenter = Prerequisites.which("nsenter")
  const instanceId = raw.info.instanceId
  const runDir = path.join("/run", `heyo-${instanceId}`, "net")
  const policyDir = path.join(config.dataDir, "network")
  yield* Effect.sync(() => {
    fs.mkdirSync(policyDir, { recursive: true })
    // sockets of a crashed run; the runtime's sweep removes only directories
    fs.rmSync(runDir, { recursive: true, force: true })
    fs.mkdirSync(runDir, { recursive: true, mode: 0o700 })
  })
  const resolve = config.egressTestHosts === undefined ? Resolver.system : Resolver.fromMap(config.egressTestHosts)
  const effectRuntime = yield* Effect.runtime<never>()
  const log = (message: string) => EffectRuntime.runFork(effectRuntime)(Effect.logInfo(message))

  const policies = new Map<string, Policy.Policy>()
  const tunnels = Tunnels.open(path.join(policyDir, "tunnels.json"))
  const bound = BoundPorts.open(path.join(policyDir, "ports.json"))
  const attached = new Map<string, Attached>()
  const locks = new KeyedLock()

  const policyFile = (id: string) => path.join(policyDir, `${id}.json`)
  const hostFailure = (message: string) => (error: unknown) =>
    new HostFailure({ message: `${message}: ${error instanceof Error ? error.message : String(error)}` })

  const decode = (id: string, text: string): Policy.Policy => {
    const parsed = JSON.parse(text) as Policy.Policy
    if (!Array.isArray(parsed.rules)) throw new Error(`policy file of ${id} has no rules`)
    return parsed
  }

  const policyNow = (id: string): Policy.Policy => {
    const cached = policies.get(id)
    if (cached !== undefined) return cached
    let policy = Policy.open
    try {
      policy = decode(id, fs.readFileSync(policyFile(id), "utf8"))
    } catch (error) {
      // No file: a sandbox created before networking existed, open as the Sprites default. An
      // unreadable file fails closed.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        log(`network policy of ${id} unreadable, denying all: ${String(error)}`)
        policy = Policy.denyAll
      }
    }
    policies.set(id, policy)
    return policy
  }

  const writeInSandbox = (id: string, policy: Policy.Policy) =>
    raw.writeFile(id, policyFileInSandbox, new TextEncoder().encode(encodePolicy(policy))).pipe(
      Effect.catchTag("SandboxNotRunning", () => Effect.void),
      Effect.catchAll((error) => Effect.logWarning(`writing ${policyFileInSandbox} in ${id}: ${error.message}`))
    )

  const store = (id: string, policy: Policy.Policy) =>
    Effect.try({
      try: () => {
        const file = policyFile(id)
        fs.writeFileSync(`${file}.tmp`, encodePolicy(policy), { mode: 0o600 })
        fs.renameSync(`${file}.tmp`, file)
        policies.set(id, policy)
      },
      catch: hostFailure(`saving the network policy of ${id}`)
    })

  const setPolicy = (id: string, policy: Policy.Policy) =>
    locks.withLock(
      `policy:${id}`,
      Effect.gen(function*() {
        yield* store(id, policy)
        const entry = attached.get(id)
        if (entry !== undefined) {
          const cut = entry.proxy.recheck()
          if (cut > 0) yield* Effect.logInfo(`egress ${id}: policy change cut ${cut} connection(s)`)
          yield* writeInSandbox(id, policy)
        }
      })
    )

  const netnsInode = (id: string) => {
    try {
      return fs.statSync(Netns.pathOf(Netns.name(instanceId, id))).ino
    } catch {
      return -1
    }
  }

  const detachUnlocked = (id: string) =>
    Effect.promise(async () => {
      const entry = attached.get(id)
      if (entry === undefined) return
      attached.delete(id)
      await entry.forwarder.kill()
      await entry.proxy.close()
      fs.rmSync(entry.ingressSocket, { force: true })
    })

  const attachUnlocked = (id: string) =>
    Effect.gen(function*() {
      const inode = netnsInode(id)
      const existing = attached.get(id)
      if (existing !== undefined && existing.netnsInode === inode && existing.forwarder.process.exitCode === null) return
      yield* detachUnlocked(id)
      if (nsenter === undefined) {
        return yield* new RuntimeError({ operation: "network", sandboxId: id, message: "nsenter not found" })
      }
      const egressSocket = path.join(runDir, `${id}.egress`)
      const ingressSocket = path.join(runDir, `${id}.ingress`)
      const proxy = yield* Effect.tryPromise({
        try: () => EgressProxy.start({ sandboxId: id, socketPath: egressSocket, policy: () => policyNow(id), resolve, log }),
        catch: (error) => new RuntimeError({ operation: "network", sandboxId: id, message: `egress proxy: ${String(error)}` })
      })
      const forwarder = yield* Forwarder.start({
        nsenter,
        netnsPath: Netns.pathOf(Netns.name(instanceId, id)),
        egressSocket,
        ingressSocket,
        sandboxId: id
      }).pipe(Effect.tapError(() => Effect.promise(proxy.close)))
      attached.set(id, { netnsInode: inode, proxy, forwarder, ingressSocket })
      yield* writeInSandbox(id, policyNow(id))
    })

  const attach = (id: string) => locks.withLock(`attach:${id}`, attachUnlocked(id))
  const detach = (id: string) => locks.withLock(`attach:${id}`, detachUnlocked(id))

  yield* Effect.addFinalizer(() =>
    Effect.forEach([...attached.keys()], detachUnlocked, { concurrency: "unbounded", discard: true })
  )

  const withProxyEnv = <S extends { readonly env: Readonly<Record<string, string>> }>(spec: S): S => ({
    ...spec,
    env: { ...proxyEnv, ...spec.env }
  })

  const runtime: RuntimeService = {
    ...raw,
    // as the bare start is: an interrupted attach would leave a listening proxy behind
    start: (spec) => Effect.uninterruptible(raw.start(spec).pipe(Effect.zipRight(attach(spec.id)))),
    stop: (id) => Effect.uninterruptible(detach(id).pipe(Effect.zipRight(raw.stop(id)))),
    destroy: (id) =>
      Effect.uninterruptible(detach(id).pipe(
        Effect.zipRight(raw.destroy(id)),
        Effect.zipRight(Effect.sync(() => {
          policies.delete(id)
          fs.rmSync(policyFile(id), { force: true })
          tunnels.removeSandbox(id)
          bound.removeSandbox(id)
        }))
      )),
    exec: (id, spec) => raw.exec(id, withProxyEnv(spec)),
    spawn: (id, spec) => raw.spawn(id, withProxyEnv(spec)),
    spawnBackground: (id, spec, logFile) => raw.spawnBackground(id, withProxyEnv(spec), logFile)
  }

  const connectPort = (id: string, port: number) =>
    Effect.async<net.Socket, PortUnreachable>((resume) => {
      const fail = (message: string) =>
        resume(Effect.fail(new PortUnreachable({ sandboxId: id, port, message })))
      const entry = attached.get(id)
      if (entry === undefined) return fail(`sandbox ${id} is not running`)
      const socket = net.connect(entry.ingressSocket)
      let answer = ""
      const onData = (chunk: Buffer) => {
        answer += chunk.toString("latin1")
        const end = answer.indexOf("\n")
        if (end === -1) return
        socket.off("data", onData)
        socket.pause()
        const line = answer.slice(0, end)
        const rest = Buffer.from(answer.slice(end + 1), "latin1")
        if (line !== "ok") {
          socket.destroy()
          return fail(`nothing accepted a connection on port ${port} in sandbox ${id}: ${line.replace(/^error /, "")}`)
        }
        if (rest.length > 0) socket.unshift(rest)
        socket.removeAllListeners("error")
        socket.removeAllListeners("close")
        resume(Effect.succeed(socket))
      }
      socket.on("data", onData)
      socket.once("error", (error) => fail(`sandbox ${id}: ${error.message}`))
      socket.once("close", () => fail(`sandbox ${id}: the forwarder closed the connection`))
      socket.once("connect", () => socket.write(`${port}\n`))
      return Effect.sync(() => socket.destroy())
    })

  const service: Service = {
    getPolicy: (id) => Effect.sync(() => policyNow(id)),
    setPolicy,
    initialize: (id, spec) =>
      setPolicy(id, spec.policy ?? (config.egressDefault === "deny" ? Policy.denyAll : Policy.open)).pipe(
        Effect.zipRight(Effect.try({
          try: () => {
            for (const port of spec.openPorts) bound.bind(id, port, true)
          },
          catch: hostFailure(`binding the open ports of ${id}`)
        }))
      ),
    connectPort,
    openConnections: (id) => attached.get(id)?.proxy.openConnections() ?? 0,
    tunnelGrant: (id, port) =>
      Effect.try({ try: () => tunnels.grant(id, port), catch: hostFailure(`saving the tunnel grant of ${id}:${port}`) }),
    revokeTunnel: (id, port) =>
      Effect.try({ try: () => tunnels.revoke(id, port), catch: hostFailure(`revoking the tunnel grant of ${id}:${port}`) }),
    checkTunnelGrant: (id, port, grant) => tunnels.check(id, port, grant),
    bindPort: (id, port, isPublic) =>
      Effect.try({ try: () => bound.bind(id, port, isPublic), catch: hostFailure(`binding port ${port} of ${id}`) }),
    boundPorts: (id) => bound.of(id),
    bindingFor: (subdomain) => bound.bySubdomain(subdomain),
    listeners: (id) => {
      const entry = attached.get(id)
      return entry === undefined || entry.forwarder.process.pid === undefined
        ? undefined
        : PortWatch.listeners(entry.forwarder.process.pid)
    }
  }
  return { service, runtime }
})

/** Provides `Network` and the networked `Runtime`, given the bare runtime. */
export const layer: Layer.Layer<Network | Runtime, never, Runtime | ServerConfig> = Layer.scopedContext(
  Effect.map(make, ({ runtime, service }) => Context.make(Network, service).pipe(Context.add(Runtime, runtime)))
)

/** The Network service when heyod runs with networking (absent in unit tests on a fake runtime). */
export const optional = Effect.serviceOption(Network).pipe(Effect.map(Option.getOrUndefined))

/**
 * For routes: the Network service, or a HostFailure on a server assembled without networking
 * (the routers' unit tests run on a fake runtime and need not provide it).
 */
export const required = Effect.flatMap(
  optional,
  (network) =>
    network === undefined
      ? Effect.fail(new HostFailure({ message: "this server was assembled without networking" }))
      : Effect.succeed(network)
)
