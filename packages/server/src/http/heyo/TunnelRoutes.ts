/**
 * Heyo `POST /sandboxes/:id/tcp-tunnel {port}` -> `{connection_url}` (reference/heyo-api.md
 * §2.5): a `heyo://` iroh ticket (P2pGrants.ts) unless the body asks `transport: "ws"` (or heyod
 * runs with `--p2p off`) for heyod's `heyo+ws://` tickets (protocol heyo/Tunnel.ts), the revocation extension
 * `DELETE /sandboxes/:id/tcp-tunnel/:port`, and the tickets' WebSocket
 * `/tunnels/:id/:port?grant=...`: its own credential (no API key), one TCP connection to the
 * port inside the sandbox per WebSocket, raw binary frames. A missing or revoked grant is a 403
 * before the upgrade; a stopped sandbox a 409; a port nobody listens on a close 1011.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeyoTunnel } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Conflict, InvalidRequest } from "../../engine/EngineError.js"
import { Sandboxes } from "../../engine/Sandboxes.js"
import * as Network from "../../network/Network.js"
import * as P2pGrants from "../../network/P2pGrants.js"
import * as TcpRelay from "../../network/TcpRelay.js"
import * as Body from "../Body.js"
import { BadRequest, Unauthorized } from "../HttpErrors.js"
import * as WebSocketUpgrade from "../WebSocketUpgrade.js"

/** Paths that carry their own credential (a grant), for Auth. */
export const socketPathPattern = /^\/tunnels\/[^/]+\/\d{1,5}$/

const portParam = (value: string | undefined) => {
  const port = Number(value)
  return Number.isInteger(port) && port >= 1 && port <= 65535
    ? Effect.succeed(port)
    : Effect.fail(new InvalidRequest({ message: `port: "${value}" is not a port (1-65535)` }))
}

const tunnelSocket = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = yield* HttpRouter.params
  const id = params["id"] ?? ""
  const port = yield* portParam(params["port"])
  const grant = new URL(request.url, "http://heyod").searchParams.get("grant") ?? ""
  const network = yield* Network.required
  // the same answer for an unknown sandbox as for a wrong grant: a ticket reveals nothing else
  if (!network.checkTunnelGrant(id, port, grant)) {
    return yield* new Unauthorized({ message: "invalid or revoked tunnel ticket" })
  }
  const record = yield* (yield* Sandboxes).get(id)
  if (!WebSocketUpgrade.isUpgrade(request)) {
    return yield* new BadRequest({ message: "a tunnel needs a WebSocket upgrade (Upgrade: websocket)" })
  }
  if (record.status !== "running") return yield* new Conflict({ message: `sandbox ${id} is ${record.status}, not running` })
  yield* Effect.scoped(Effect.gen(function*() {
    const socket = yield* WebSocketUpgrade.accept()
    const tcp = yield* network.connectPort(id, port).pipe(Effect.either)
    if (tcp._tag === "Left") return yield* socket.close(1011, tcp.left.message.slice(0, 120))
    yield* TcpRelay.relay(socket, tcp.right)
  }))
  return HttpServerResponse.empty()
})

export const router = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/sandboxes/:id/tcp-tunnel",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const id = (yield* HttpRouter.params)["id"] ?? ""
      const body = yield* Body.json(HeyoTunnel.TcpTunnelRequest)
      const record = yield* (yield* Sandboxes).get(id)
      const p2p = yield* P2pGrants.optional
      if (body.transport !== "ws" && Option.isSome(p2p) && p2p.value.available) {
        const connectionUrl = yield* p2p.value.ticket(record.id, body.port)
        return yield* HttpServerResponse.schemaJson(HeyoTunnel.TcpTunnelResponse)(
          new HeyoTunnel.TcpTunnelResponse({ connectionUrl })
        )
      }
      const grant = yield* (yield* Network.required).tunnelGrant(record.id, body.port)
      const connectionUrl = HeyoTunnel.formatTicket({
        baseUrl: `http://${request.headers["host"] ?? "127.0.0.1"}`,
        sandboxId: record.id,
        port: body.port,
        grant
      })
      return yield* HttpServerResponse.schemaJson(HeyoTunnel.TcpTunnelResponse)(
        new HeyoTunnel.TcpTunnelResponse({ connectionUrl })
      )
    })
  ),
  HttpRouter.del(
    "/sandboxes/:id/tcp-tunnel/:port",
    Effect.gen(function*() {
      const params = yield* HttpRouter.params
      const record = yield* (yield* Sandboxes).get(params["id"] ?? "")
      const port = yield* portParam(params["port"])
      yield* (yield* Network.required).revokeTunnel(record.id, port)
      const p2p = yield* P2pGrants.optional
      if (Option.isSome(p2p)) yield* p2p.value.revoke(record.id, port)
      return HttpServerResponse.empty({ status: 204 })
    })
  ),
  HttpRouter.get("/tunnels/:id/:port", tunnelSocket)
)
