/**
 * Heyo private networks (reference/heyo-api.md §2.7): `/networks` (lists existing rows; the
 * default network appears once `/networks/me` or the services registry created it), `/networks/me`,
 * `GET|PATCH|DELETE /networks/:id` (`me` names the default network there too), members, and the
 * services registry of the default network under `/networks/me/services`, its `dial` answering a
 * `heyo://` iroh ticket (transport `iroh_tcp_proxy`, P2pGrants.ts) or, with `?transport=ws` or
 * `--p2p off`, a `heyo+ws://` ticket (`ws_tcp_proxy`). Members and services of kind `local` or
 * `deployed` name a heyod sandbox by id or name; they are stored by id.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeyoNetwork, HeyoTunnel } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { InvalidRequest } from "../../engine/EngineError.js"
import { Sandboxes } from "../../engine/Sandboxes.js"
import * as Network from "../../network/Network.js"
import * as Networks from "../../network/Networks.js"
import type { NetworkNotFound, ServiceNotFound, ServiceView } from "../../network/Networks.js"
import type * as NetworksStore from "../../network/NetworksStore.js"
import * as P2pGrants from "../../network/P2pGrants.js"
import * as Body from "../Body.js"
import { errorResponse } from "./ErrorResponse.js"

const notFound = <A, E, R>(effect: Effect.Effect<A, E | NetworkNotFound | ServiceNotFound, R>) =>
  Effect.catchIf(
    effect,
    (error): error is NetworkNotFound | ServiceNotFound =>
      typeof error === "object" && error !== null && "_tag" in error &&
      (error._tag === "NetworkNotFound" || error._tag === "ServiceNotFound"),
    (error) => Effect.succeed(errorResponse(404, error.message))
  )

const networkInfo = (row: NetworksStore.NetworkRow) =>
  new HeyoNetwork.NetworkInfo({
    id: row.id,
    accountId: "local",
    name: row.name,
    isDefault: row.isDefault,
    description: row.description,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt
  })

const memberInfo = (row: NetworksStore.MemberRow) =>
  new HeyoNetwork.NetworkMember({
    networkId: row.networkId,
    sandboxKind: row.kind,
    sandboxRef: row.ref,
    deviceName: row.deviceName,
    registeredAt: row.registeredAt,
    lastSeenAt: null
  })

const baseUrl = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => `http://${request.headers["host"] ?? "127.0.0.1"}`
)

const wsRoute = (row: NetworksStore.ServiceRow) =>
  Effect.gen(function*() {
    const grant = yield* (yield* Network.required).tunnelGrant(row.ref, row.port)
    return {
      transport: HeyoTunnel.transport,
      connectionUrl: HeyoTunnel.formatTicket({ baseUrl: yield* baseUrl, sandboxId: row.ref, port: row.port, grant })
    }
  })

/**
 * The route to a service: while P2P is on, a `heyo://` ticket of the service's own grant (it
 * reaches this registration while it is live, and is revoked with it), unless `ws` is asked for.
 */
const routeTo = (row: NetworksStore.ServiceRow, asked: "iroh" | "ws" = "iroh") =>
  Effect.gen(function*() {
    const p2p = yield* P2pGrants.optional
    if (asked === "iroh" && Option.isSome(p2p) && p2p.value.available) {
      const connectionUrl = yield* p2p.value.serviceTicket({ id: row.id, name: row.name, port: row.port })
      return { transport: "iroh_tcp_proxy" as const, connectionUrl }
    }
    return yield* wsRoute(row)
  })

/** Heyo's registered routes are iroh tickets; a `heyo+ws://` URL is heyod's WebSocket kind. */
const transportOf = (connectionUrl: string) =>
  HeyoTunnel.parseTicket(connectionUrl) === undefined ? "iroh_tcp_proxy" : HeyoTunnel.transport

/**
 * A live service carries the ticket that reaches it, unless it was registered with its own URL.
 * A listing must not fail for one service whose P2P endpoint cannot start: it falls back to ws.
 */
const serviceInfo = ({ live, row }: ServiceView) =>
  Effect.gen(function*() {
    const route = live && row.connectionUrl === null
      ? yield* routeTo(row).pipe(
        Effect.catchTag("HostFailure", (error) =>
          Effect.logWarning(`service ${row.name}:${row.port}: ${error.message}; listing its heyo+ws:// route`).pipe(
            Effect.zipRight(wsRoute(row))
          ))
      )
      : undefined
    const connectionUrl = row.connectionUrl ?? route?.connectionUrl ?? null
    return new HeyoNetwork.NetworkService({
      id: row.id,
      networkId: row.networkId,
      name: row.name,
      address: `${row.name}:${row.port}`,
      sandboxKind: row.kind,
      sandboxRef: row.ref,
      port: row.port,
      protocol: row.protocol,
      status: live ? "active" : "pending",
      connectionUrl,
      lastSeenAt: null,
      transport: !live ? "agent_proxy_pending" : route?.transport ?? transportOf(row.connectionUrl ?? "")
    })
  })

/** `local` and `deployed` refs are heyod sandboxes: resolved (404 if unknown) and kept by id. */
const sandboxRef = (kind: string, ref: string) =>
  kind === "local" || kind === "deployed"
    ? Effect.map(Effect.flatMap(Sandboxes, (sandboxes) => sandboxes.get(ref)), (record) => record.id)
    : Effect.succeed(ref)

const networkId = Effect.gen(function*() {
  const id = (yield* HttpRouter.params)["id"] ?? ""
  return id === "me" ? (yield* (yield* Networks.required).defaultNetwork).id : id
})

const servicePath = Effect.gen(function*() {
  const params = yield* HttpRouter.params
  const port = Number(params["port"])
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return yield* new InvalidRequest({ message: `port: "${params["port"]}" is not a port (1-65535)` })
  }
  return { name: params["name"] ?? "", port }
})

const info = (row: NetworksStore.NetworkRow) => HttpServerResponse.schemaJson(HeyoNetwork.NetworkInfo)(networkInfo(row))

export const router = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/networks",
    Effect.gen(function*() {
      const body = yield* Body.json(HeyoNetwork.NetworkCreateBody)
      return yield* info(yield* (yield* Networks.required).create(body.name, body.description ?? null))
    })
  ),
  HttpRouter.get(
    "/networks",
    Effect.gen(function*() {
      const rows = yield* (yield* Networks.required).list
      return yield* HttpServerResponse.schemaJson(HeyoNetwork.NetworkList)(
        new HeyoNetwork.NetworkList({ networks: rows.map(networkInfo) })
      )
    })
  ),
  HttpRouter.get("/networks/me", Effect.flatMap(Effect.flatMap(Networks.required, (n) => n.defaultNetwork), info)),
  HttpRouter.get(
    "/networks/me/services",
    Effect.gen(function*() {
      const views = yield* (yield* Networks.required).services
      const services = yield* Effect.forEach(views, serviceInfo)
      return yield* HttpServerResponse.schemaJson(HeyoNetwork.ServiceList)(services)
    })
  ),
  HttpRouter.post(
    "/networks/me/services",
    Effect.gen(function*() {
      const body = yield* Body.json(HeyoNetwork.ServiceRegisterBody)
      if (body.name === "localhost") return yield* new InvalidRequest({ message: "name: \"localhost\" is reserved" })
      const ref = yield* sandboxRef(body.sandboxKind, body.sandboxRef)
      const view = yield* (yield* Networks.required).register({
        name: body.name,
        kind: body.sandboxKind,
        ref,
        port: body.port,
        protocol: body.protocol,
        connectionUrl: body.connectionUrl ?? null
      })
      return yield* HttpServerResponse.schemaJson(HeyoNetwork.NetworkService)(yield* serviceInfo(view))
    })
  ),
  HttpRouter.get(
    "/networks/me/services/:name/:port",
    notFound(Effect.gen(function*() {
      const { name, port } = yield* servicePath
      const view = yield* (yield* Networks.required).resolve(name, port)
      return yield* HttpServerResponse.schemaJson(HeyoNetwork.NetworkService)(yield* serviceInfo(view))
    }))
  ),
  HttpRouter.del(
    "/networks/me/services/:name/:port",
    Effect.gen(function*() {
      const { name, port } = yield* servicePath
      const networks = yield* Networks.required
      const existing = yield* Effect.option(networks.resolve(name, port))
      yield* networks.unregister(name, port)
      // its dial tickets go with the registration
      const p2p = yield* P2pGrants.optional
      if (Option.isSome(existing) && Option.isSome(p2p)) {
        yield* p2p.value.revokeService({ id: existing.value.row.id, name, port })
      }
      return HttpServerResponse.empty({ status: 204 })
    })
  ),
  HttpRouter.get(
    "/networks/me/services/:name/:port/dial",
    notFound(Effect.gen(function*() {
      const { name, port } = yield* servicePath
      const query = yield* HttpServerRequest.schemaSearchParams(Schema.Struct({ transport: Schema.optional(HeyoNetwork.DialTransport) })).pipe(
        Effect.mapError(() => new InvalidRequest({ message: "transport: must be iroh or ws" }))
      )
      const networks = yield* Networks.required
      // 409 without a live route, before any ticket is made
      yield* networks.route(name, port)
      const route = yield* routeTo((yield* networks.resolve(name, port)).row, query.transport)
      return yield* HttpServerResponse.schemaJson(HeyoNetwork.ServiceRoute)(
        new HeyoNetwork.ServiceRoute({ address: `${name}:${port}`, ...route })
      )
    }))
  ),
  HttpRouter.get("/networks/:id", notFound(Effect.flatMap(Effect.flatMap(networkId, (id) => Effect.flatMap(Networks.required, (n) => n.get(id))), info))),
  HttpRouter.patch(
    "/networks/:id",
    notFound(Effect.gen(function*() {
      const id = yield* networkId
      const body = yield* Body.json(HeyoNetwork.NetworkPatchBody)
      return yield* info(yield* (yield* Networks.required).update(id, { name: body.name, description: body.description }))
    }))
  ),
  HttpRouter.del(
    "/networks/:id",
    notFound(Effect.gen(function*() {
      yield* (yield* Networks.required).remove(yield* networkId)
      return HttpServerResponse.empty({ status: 204 })
    }))
  ),
  HttpRouter.get(
    "/networks/:id/members",
    notFound(Effect.gen(function*() {
      const rows = yield* (yield* Networks.required).members(yield* networkId)
      return yield* HttpServerResponse.schemaJson(HeyoNetwork.MemberList)(
        new HeyoNetwork.MemberList({ members: rows.map(memberInfo) })
      )
    }))
  ),
  HttpRouter.post(
    "/networks/:id/members",
    notFound(Effect.gen(function*() {
      const id = yield* networkId
      const body = yield* Body.json(HeyoNetwork.MemberAddBody)
      const networks = yield* Networks.required
      yield* networks.get(id)
      const ref = yield* sandboxRef(body.sandboxKind, body.sandboxRef)
      const row = yield* networks.addMember(id, body.sandboxKind, ref, body.deviceName)
      return yield* HttpServerResponse.schemaJson(HeyoNetwork.NetworkMember)(memberInfo(row))
    }))
  ),
  HttpRouter.del(
    "/networks/:id/members/:kind/:ref",
    notFound(Effect.gen(function*() {
      const params = yield* HttpRouter.params
      const kind = params["kind"] ?? ""
      const ref = params["ref"] ?? ""
      // a removed sandbox's ref no longer resolves; a name resolves to the id members are kept by
      const id = yield* sandboxRef(kind, ref).pipe(Effect.orElseSucceed(() => ref))
      yield* (yield* Networks.required).removeMember(yield* networkId, kind, id)
      return HttpServerResponse.empty({ status: 204 })
    }))
  )
)
