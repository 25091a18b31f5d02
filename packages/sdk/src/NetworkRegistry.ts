/**
 * Private networks, members and the services registry (reference/heyo-api.md §2.7), the part of
 * the `Network` service that is not about one sandbox. Members reach the services of their
 * networks by `name:port` from inside; `dialService` gives a ticket that reaches a service from
 * outside with `Tunnel.connect`: a `heyo://` iroh ticket (transport `iroh_tcp_proxy`, as on
 * Heyo), or on heyod with `{ transport: "ws" }` a `heyo+ws://` ticket (`ws_tcp_proxy`).
 *
 * @since 0.1.0
 */
import { HeyoNetwork } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import type { HeyoClient } from "./HeyoClient.js"
import { path } from "./HeyoClient.js"
import type * as HeyoError from "./HeyoError.js"

/** @since 0.1.0 */
export type NetworkInfo = HeyoNetwork.NetworkInfo
/** @since 0.1.0 */
export type NetworkMember = HeyoNetwork.NetworkMember
/** @since 0.1.0 */
export type NetworkService = HeyoNetwork.NetworkService
/** @since 0.1.0 */
export type ServiceRoute = HeyoNetwork.ServiceRoute
/** @since 0.1.0 */
export type MemberKind = HeyoNetwork.NetworkMemberKind

/** @since 0.1.0 */
export interface MemberSpec {
  /** `local` (a sandbox of this server) unless given. */
  readonly sandboxKind?: MemberKind | undefined
  readonly sandboxRef: string
  readonly deviceName?: string | undefined
}

/** @since 0.1.0 */
export interface ServiceSpec extends MemberSpec {
  /** One DNS label: how members name it from inside (`nc <name> <port>`). */
  readonly name: string
  readonly port: number
  readonly connectionUrl?: string | undefined
}

/** @since 0.1.0 */
export interface DialOptions {
  /** heyod only: `"ws"` for a `heyo+ws://` ticket instead of its default `heyo://` one. */
  readonly transport?: "iroh" | "ws" | undefined
}

/** @since 0.1.0 */
export interface Registry {
  readonly createNetwork: (name: string, options?: { readonly description?: string | undefined }) => Effect.Effect<NetworkInfo, HeyoError.HttpError>
  /** The networks that exist (the default one appears once `defaultNetwork` created it). */
  readonly listNetworks: Effect.Effect<ReadonlyArray<NetworkInfo>, HeyoError.HttpError>
  /** The default network, created on first use; its services registry is the one below. */
  readonly defaultNetwork: Effect.Effect<NetworkInfo, HeyoError.HttpError>
  readonly getNetwork: (networkId: string) => Effect.Effect<NetworkInfo, HeyoError.HttpError>
  /** `description: null` clears it. The default network refuses a rename (`InvalidArgument`). */
  readonly updateNetwork: (
    networkId: string,
    patch: { readonly name?: string | undefined; readonly description?: string | null | undefined }
  ) => Effect.Effect<NetworkInfo, HeyoError.HttpError>
  readonly deleteNetwork: (networkId: string) => Effect.Effect<void, HeyoError.HttpError>
  readonly listMembers: (networkId: string) => Effect.Effect<ReadonlyArray<NetworkMember>, HeyoError.HttpError>
  /** Idempotent: adding a member again only updates its device name. */
  readonly addMember: (networkId: string, member: MemberSpec) => Effect.Effect<NetworkMember, HeyoError.HttpError>
  readonly removeMember: (networkId: string, kind: MemberKind, ref: string) => Effect.Effect<void, HeyoError.HttpError>
  readonly listServices: Effect.Effect<ReadonlyArray<NetworkService>, HeyoError.HttpError>
  readonly registerService: (service: ServiceSpec) => Effect.Effect<NetworkService, HeyoError.HttpError>
  readonly resolveService: (name: string, port: number) => Effect.Effect<NetworkService, HeyoError.HttpError>
  readonly removeService: (name: string, port: number) => Effect.Effect<void, HeyoError.HttpError>
  /**
   * The live route to a service: its `connectionUrl` is a ticket for `Tunnel.connect`. A service
   * whose sandbox is stopped or out of the network fails with `Api` status 409.
   */
  readonly dialService: (name: string, port: number, options?: DialOptions) => Effect.Effect<ServiceRoute, HeyoError.HttpError>
}

/** @since 0.1.0 */
export const make = (client: HeyoClient["Type"]): Registry => {
  const service = (name: string, port: number) => path`/networks/me/services/${name}/${String(port)}`
  return {
    createNetwork: Effect.fn("Network.createNetwork")(function*(name: string, options?: { readonly description?: string | undefined }) {
      const body = options?.description === undefined ? { name } : { name, description: options.description }
      return yield* client.json(HeyoNetwork.NetworkInfo, { method: "POST", path: "/networks", body })
    }),
    listNetworks: client.json(HeyoNetwork.NetworkList, { method: "GET", path: "/networks" }).pipe(
      Effect.map((list) => list.networks),
      Effect.withSpan("Network.listNetworks")
    ),
    defaultNetwork: client.json(HeyoNetwork.NetworkInfo, { method: "GET", path: "/networks/me", idempotent: true }).pipe(
      Effect.withSpan("Network.defaultNetwork")
    ),
    getNetwork: Effect.fn("Network.getNetwork")(function*(networkId: string) {
      return yield* client.json(HeyoNetwork.NetworkInfo, { method: "GET", path: path`/networks/${networkId}` })
    }),
    updateNetwork: Effect.fn("Network.updateNetwork")(function*(
      networkId: string,
      patch: { readonly name?: string | undefined; readonly description?: string | null | undefined }
    ) {
      const body = {
        ...(patch.name === undefined ? {} : { name: patch.name }),
        ...(patch.description === undefined ? {} : { description: patch.description })
      }
      return yield* client.json(HeyoNetwork.NetworkInfo, { method: "PATCH", path: path`/networks/${networkId}`, body, idempotent: true })
    }),
    deleteNetwork: Effect.fn("Network.deleteNetwork")(function*(networkId: string) {
      yield* client.execute({ method: "DELETE", path: path`/networks/${networkId}`, idempotent: true })
    }),
    listMembers: Effect.fn("Network.listMembers")(function*(networkId: string) {
      return (yield* client.json(HeyoNetwork.MemberList, { method: "GET", path: path`/networks/${networkId}/members` })).members
    }),
    addMember: Effect.fn("Network.addMember")(function*(networkId: string, member: MemberSpec) {
      const body = {
        sandbox_kind: member.sandboxKind ?? "local",
        sandbox_ref: member.sandboxRef,
        ...(member.deviceName === undefined ? {} : { device_name: member.deviceName })
      }
      return yield* client.json(HeyoNetwork.NetworkMember, { method: "POST", path: path`/networks/${networkId}/members`, body, idempotent: true })
    }),
    removeMember: Effect.fn("Network.removeMember")(function*(networkId: string, kind: MemberKind, ref: string) {
      yield* client.execute({ method: "DELETE", path: path`/networks/${networkId}/members/${kind}/${ref}`, idempotent: true })
    }),
    listServices: client.json(HeyoNetwork.ServiceList, { method: "GET", path: "/networks/me/services" }).pipe(
      Effect.withSpan("Network.listServices")
    ),
    registerService: Effect.fn("Network.registerService")(function*(spec: ServiceSpec) {
      const body = {
        name: spec.name,
        sandbox_kind: spec.sandboxKind ?? "local",
        sandbox_ref: spec.sandboxRef,
        port: spec.port,
        ...(spec.connectionUrl === undefined ? {} : { connection_url: spec.connectionUrl })
      }
      return yield* client.json(HeyoNetwork.NetworkService, { method: "POST", path: "/networks/me/services", body, idempotent: true })
    }),
    resolveService: Effect.fn("Network.resolveService")(function*(name: string, port: number) {
      return yield* client.json(HeyoNetwork.NetworkService, { method: "GET", path: service(name, port) })
    }),
    removeService: Effect.fn("Network.removeService")(function*(name: string, port: number) {
      yield* client.execute({ method: "DELETE", path: service(name, port), idempotent: true })
    }),
    dialService: Effect.fn("Network.dialService")(function*(name: string, port: number, options?: DialOptions) {
      return yield* client.json(HeyoNetwork.ServiceRoute, {
        method: "GET",
        path: `${service(name, port)}/dial`,
        query: { transport: options?.transport }
      })
    })
  }
}
