/**
 * A sandbox's network: its egress policy, its bound URLs (`bindPort`, `getHost`) and the ports
 * listening inside it (`watchPorts`, `waitForPort`). Tunnels are the `Tunnel` service.
 *
 * On heyod a sandbox's only way out is the server's egress proxy (the `http_proxy` /
 * `https_proxy` every command gets), which enforces this policy on the requested name before any
 * DNS lookup and refuses loopback, private and link-local addresses whatever the policy says.
 *
 * Rules (reference/sprites-api.md §2.8): `{domain, action}` with an exact host, `*.suffix`
 * (subdomains) or `*`, and `{include: "defaults"}` (registries, source hosts, AI APIs). The most
 * specific rule wins; a name no rule matches is allowed; `{rules: []}` means no enforcement. A
 * change applies at once and cuts open connections to names it now denies.
 *
 * Speaks the Sprites policy routes addressed by sandbox id (the `network-policy` extension in
 * `GET /capabilities`); a server without them fails with `Unsupported`. An initial policy can be
 * given at create (`Sandbox.create({ networkPolicy })`).
 *
 * @since 0.1.0
 */
import { HeyoNetworkEndpoint, HeyoSandbox, SpritesNetworkPolicy, SpritesNetworkPorts } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { HeyoClient, path } from "./HeyoClient.js"
import * as HeyoError from "./HeyoError.js"
import * as NetworkRegistry from "./NetworkRegistry.js"

/** The server-side extension these calls need. @since 0.1.0 */
export const FEATURE = "network-policy"

/** @since 0.1.0 */
export type Rule = SpritesNetworkPolicy.Rule

/** @since 0.1.0 */
export interface Policy {
  readonly rules: ReadonlyArray<Rule>
}

/** `{domain: "*", action: "deny"}` last: everything not allowed before it is denied. @since 0.1.0 */
export const allow = (domain: string): Rule => ({ domain, action: "allow" })
/** @since 0.1.0 */
export const deny = (domain: string): Rule => ({ domain, action: "deny" })
/** The `defaults` preset. @since 0.1.0 */
export const includeDefaults: Rule = { include: "defaults" }

/** @since 0.1.0 */
export type NetworkError = HeyoError.HttpError | HeyoError.Unsupported

/** Also private networks, members and services (NetworkRegistry.ts). @since 0.1.0 */
export interface Service extends NetworkRegistry.Registry {
  readonly getPolicy: (sandboxId: string) => Effect.Effect<Policy, NetworkError>
  /** Replaces the whole policy; an invalid rule fails with `InvalidArgument` before any call. */
  readonly setPolicy: (sandboxId: string, policy: Policy) => Effect.Effect<void, NetworkError>
  /**
   * `POST /proxy-endpoints/for-deployed`: serves the port at a URL (Heyo `bind_port`). Public by
   * default; a private URL needs the API key. On heyod the URL is
   * `http://<subdomain>.localhost:<port>/` (clients that do not resolve `*.localhost` connect to
   * 127.0.0.1 with that Host header).
   */
  readonly bindPort: (
    sandboxId: string,
    port: number,
    options?: { readonly isPublic?: boolean | undefined }
  ) => Effect.Effect<HeyoSandbox.BoundUrl, HeyoError.HttpError>
  /** The URL a port is bound at (from the sandbox's `urls`), if any (Heyo `get_host`). */
  readonly getHost: (sandboxId: string, port: number) => Effect.Effect<Option.Option<string>, HeyoError.HttpError>
  /**
   * TCP listeners inside the sandbox as they come and go (`WSS /v1/sprites/{id}/ports/watch`):
   * `Listed` first, then `Opened` / `Closed`. The socket lives as long as the stream runs.
   */
  readonly watchPorts: (sandboxId: string) => Stream.Stream<PortEvent, NetworkError>
  /** Resolves once something listens on `port` inside the sandbox; `Timeout` past `timeout` (default 60 s). */
  readonly waitForPort: (
    sandboxId: string,
    port: number,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<PortInfo, NetworkError | HeyoError.Timeout>
}

/** A listening socket inside a sandbox; `pid` as the sandbox numbers it (0 when unknown). @since 0.1.0 */
export interface PortInfo {
  readonly port: number
  readonly address: string
  readonly pid: number
}

/** @since 0.1.0 */
export type PortEvent = Data.TaggedEnum<{
  readonly Listed: { readonly ports: ReadonlyArray<PortInfo> }
  readonly Opened: PortInfo
  readonly Closed: PortInfo
}>

/** @since 0.1.0 */
export const PortEvent = Data.taggedEnum<PortEvent>()

/** The server-side extension `watchPorts` and `waitForPort` need. @since 0.1.0 */
export const PORTS_FEATURE = "ports-watch"

/** @since 0.1.0 */
export class Network extends Context.Tag("@heyo-effect/sdk/Network")<Network, Service>() {}

const encodePolicy = Schema.encode(SpritesNetworkPolicy.NetworkPolicy)

/** The wire body of a policy, validated (domain syntax, one rule form at a time). @since 0.1.0 */
export const encode = (policy: Policy): Effect.Effect<unknown, HeyoError.InvalidArgument> =>
  Schema.decodeUnknown(SpritesNetworkPolicy.NetworkPolicy)({ rules: policy.rules }).pipe(
    Effect.flatMap(encodePolicy),
    Effect.mapError((error) =>
      new HeyoError.InvalidArgument({
        status: 400,
        message: `invalid network policy: ${
          ParseResult.ArrayFormatter.formatErrorSync(error).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
        }`
      })
    )
  )

const hostOf = (url: string) => {
  try {
    return new URL(url).hostname
  } catch {
    return undefined
  }
}

const decodePortMessage = Schema.decodeUnknownOption(SpritesNetworkPorts.PortMessageFromJson)
const info = (p: PortInfo): PortInfo => ({ port: p.port, address: p.address, pid: p.pid })

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.gen(function*() {
  const client = yield* HeyoClient
  const route = (id: string) => path`/v1/sprites/${id}/policy/network`
  const self = (): Service => service
  const service: Service = {
    ...NetworkRegistry.make(client),
    getPolicy: Effect.fn("Network.getPolicy")(function*(sandboxId: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      yield* client.requireFeature(FEATURE)
      const policy = yield* client.json(SpritesNetworkPolicy.NetworkPolicy, { method: "GET", path: route(sandboxId) })
      return { rules: policy.rules }
    }),
    setPolicy: Effect.fn("Network.setPolicy")(function*(sandboxId: string, policy: Policy) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      const body = yield* encode(policy)
      yield* client.requireFeature(FEATURE)
      // a full replacement: repeating it changes nothing
      yield* client.execute({ method: "POST", path: route(sandboxId), body, idempotent: true })
    }),
    bindPort: Effect.fn("Network.bindPort")(function*(sandboxId: string, port: number, options?: { readonly isPublic?: boolean | undefined }) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      const body = { sandbox_id: sandboxId, port, is_public: options?.isPublic ?? true }
      const bound = yield* client.json(HeyoNetworkEndpoint.ProxyEndpointResponse, {
        method: "POST",
        path: "/proxy-endpoints/for-deployed",
        body,
        idempotent: true
      })
      return new HeyoSandbox.BoundUrl({
        subdomain: bound.subdomain,
        hostname: bound.hostname !== "" ? bound.hostname : hostOf(bound.url) ?? bound.subdomain,
        url: bound.url !== "" ? bound.url : `https://${bound.hostname !== "" ? bound.hostname : bound.subdomain}`,
        port: bound.port,
        isPublic: bound.isPublic
      })
    }),
    watchPorts: (sandboxId: string) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        yield* client.requireFeature(PORTS_FEATURE)
        const ws = yield* client.webSocket({ path: path`/v1/sprites/${sandboxId}/ports/watch` })
        return ws.messages.pipe(
          Stream.filterMap((m) => typeof m === "string" ? decodePortMessage(m) : Option.none()),
          Stream.map((m): PortEvent =>
            m.type === "port_list"
              ? PortEvent.Listed({ ports: m.ports.map(info) })
              : m.type === "port_opened"
              ? PortEvent.Opened(info(m))
              : PortEvent.Closed(info(m))
          )
        )
      })).pipe(Stream.withSpan("Network.watchPorts", { attributes: { "sandbox.id": sandboxId }, captureStackTrace: false })),
    waitForPort: (sandboxId: string, port: number, timeout?: Duration.DurationInput) => {
      const limit = Duration.decode(timeout ?? Duration.seconds(60))
      return self().watchPorts(sandboxId).pipe(
        Stream.filterMap((event): Option.Option<PortInfo> =>
          event._tag === "Listed"
            ? Option.fromNullable(event.ports.find((p) => p.port === port))
            : event._tag === "Opened" && event.port === port
            ? Option.some(info(event))
            : Option.none()
        ),
        Stream.runHead,
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(new HeyoError.Connection({ message: `the port watch of ${sandboxId} ended before port ${port} opened` })),
          onSome: Effect.succeed
        })),
        Effect.timeoutFail({
          duration: limit,
          onTimeout: () => new HeyoError.Timeout({ message: `nothing listened on port ${port} in ${sandboxId} within ${Duration.format(limit)}`, timeout: limit })
        }),
        Effect.withSpan("Network.waitForPort", { attributes: { "sandbox.id": sandboxId, port } })
      )
    },
    getHost: Effect.fn("Network.getHost")(function*(sandboxId: string, port: number) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      const info = yield* client.json(HeyoSandbox.SandboxInfo, { method: "GET", path: path`/deployed-sandboxes/${sandboxId}` })
      return Option.fromNullable(info.urls.find((u) => u.port === port)).pipe(
        Option.map((u) => u.url !== "" ? u.url : `https://${u.hostname !== "" ? u.hostname : u.subdomain}`)
      )
    })
  }
  return service
})

/** @since 0.1.0 */
export const layer: Layer.Layer<Network, never, HeyoClient> = Layer.effect(Network, make)

/** @since 0.1.0 */
export const getPolicy = (sandboxId: string) => Effect.flatMap(Network, (n) => n.getPolicy(sandboxId))
/** @since 0.1.0 */
export const setPolicy = (sandboxId: string, policy: Policy) => Effect.flatMap(Network, (n) => n.setPolicy(sandboxId, policy))
/** @since 0.1.0 */
export const bindPort = (sandboxId: string, port: number, options?: { readonly isPublic?: boolean | undefined }) =>
  Effect.flatMap(Network, (n) => n.bindPort(sandboxId, port, options))
/** @since 0.1.0 */
export const getHost = (sandboxId: string, port: number) => Effect.flatMap(Network, (n) => n.getHost(sandboxId, port))
/** @since 0.1.0 */
export const watchPorts = (sandboxId: string) => Stream.unwrap(Effect.map(Network, (n) => n.watchPorts(sandboxId)))
/** @since 0.1.0 */
export const waitForPort = (sandboxId: string, port: number, timeout?: Duration.DurationInput) =>
  Effect.flatMap(Network, (n) => n.waitForPort(sandboxId, port, timeout))

// --- private networks (NetworkRegistry.ts) ---
/** @since 0.1.0 */
export const listNetworks = Effect.flatMap(Network, (n) => n.listNetworks)
/** @since 0.1.0 */
export const defaultNetwork = Effect.flatMap(Network, (n) => n.defaultNetwork)
/** @since 0.1.0 */
export const createNetwork = (name: string, options?: { readonly description?: string | undefined }) =>
  Effect.flatMap(Network, (n) => n.createNetwork(name, options))
/** @since 0.1.0 */
export const addMember = (networkId: string, member: NetworkRegistry.MemberSpec) =>
  Effect.flatMap(Network, (n) => n.addMember(networkId, member))
/** @since 0.1.0 */
export const removeMember = (networkId: string, kind: NetworkRegistry.MemberKind, ref: string) =>
  Effect.flatMap(Network, (n) => n.removeMember(networkId, kind, ref))
/** @since 0.1.0 */
export const registerService = (service: NetworkRegistry.ServiceSpec) => Effect.flatMap(Network, (n) => n.registerService(service))
/** @since 0.1.0 */
export const listServices = Effect.flatMap(Network, (n) => n.listServices)
/** A ticket (`connectionUrl`) for `Tunnel.connect`. @since 0.1.0 */
export const dialService = (name: string, port: number, options?: NetworkRegistry.DialOptions) =>
  Effect.flatMap(Network, (n) => n.dialService(name, port, options))
/** @since 0.1.0 */
export const getNetwork = (networkId: string) => Effect.flatMap(Network, (n) => n.getNetwork(networkId))
/** @since 0.1.0 */
export const updateNetwork = (
  networkId: string,
  patch: { readonly name?: string | undefined; readonly description?: string | null | undefined }
) => Effect.flatMap(Network, (n) => n.updateNetwork(networkId, patch))
/** @since 0.1.0 */
export const deleteNetwork = (networkId: string) => Effect.flatMap(Network, (n) => n.deleteNetwork(networkId))
/** @since 0.1.0 */
export const listMembers = (networkId: string) => Effect.flatMap(Network, (n) => n.listMembers(networkId))
/** @since 0.1.0 */
export const resolveService = (name: string, port: number) => Effect.flatMap(Network, (n) => n.resolveService(name, port))
/** Unregisters the service; its dial tickets stop working. @since 0.1.0 */
export const removeService = (name: string, port: number) => Effect.flatMap(Network, (n) => n.removeService(name, port))
