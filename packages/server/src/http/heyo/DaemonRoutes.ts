/**
 * Heyo `/me/daemons` (reference/heyo-api.md §2.8) as one heyod answers it: itself, the only
 * daemon, always `online`.
 * - `GET /me/daemons/:id/connection-ticket` -> `{connectionUrl, connection_url}`: a `heyo://`
 *   ticket whose streams reach heyod's own HTTP port (P2pGrants.ts), for
 *   `HeyoClient.layerP2p`; 409 with `--p2p off`. Requests through it pass the same API key check
 *   as any other (a heyod without a key is open to the ticket's holders, so production needs one).
 * - `DELETE /me/daemons/:id` revokes that ticket (heyod cannot unregister itself from itself):
 *   new connections are refused at once, open ones end 2 s later (so the answer gets out when the
 *   request came through the ticket itself); the next ticket has a new endpoint id. Sandboxes
 *   are untouched, as on Heyo.
 * - `GET /me/daemons/:id/sandboxes` lists heyod's sandboxes.
 * Any other id is a 404.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeyoDaemon } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { DaemonIdentity } from "../../engine/DaemonIdentity.js"
import { Conflict } from "../../engine/EngineError.js"
import { Sandboxes } from "../../engine/Sandboxes.js"
import * as P2pGrants from "../../network/P2pGrants.js"
import { errorResponse } from "./ErrorResponse.js"

const info = Effect.map(DaemonIdentity, (daemon) =>
  new HeyoDaemon.DaemonInfo({
    id: daemon.id,
    name: daemon.name,
    status: "online",
    // heyod answering is its heartbeat
    lastSeenAt: new Date().toISOString(),
    createdAt: daemon.createdAt
  }))

/** Runs `route` for heyod's own id; any other id is not a daemon here. */
const forThisDaemon = <E, R>(route: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function*() {
    const id = (yield* HttpRouter.params)["id"] ?? ""
    const daemon = yield* DaemonIdentity
    if (id !== daemon.id) return errorResponse(404, `daemon ${id} not found (this heyod is ${daemon.id})`)
    return yield* route
  })

const p2pGrants = Effect.flatMap(
  P2pGrants.optional,
  Option.match({
    onNone: () => Effect.fail(new Conflict({ message: "this heyod has no P2P tunnels" })),
    onSome: Effect.succeed
  })
)

export const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/me/daemons",
    Effect.flatMap(info, (daemon) => HttpServerResponse.schemaJson(HeyoDaemon.DaemonList)(new HeyoDaemon.DaemonList({ daemons: [daemon] })))
  ),
  HttpRouter.get("/me/daemons/:id", forThisDaemon(Effect.flatMap(info, HttpServerResponse.schemaJson(HeyoDaemon.DaemonInfo)))),
  HttpRouter.del(
    "/me/daemons/:id",
    forThisDaemon(Effect.gen(function*() {
      const grants = yield* P2pGrants.optional
      if (Option.isSome(grants)) yield* grants.value.revokeDaemon
      return HttpServerResponse.empty({ status: 204 })
    }))
  ),
  HttpRouter.get(
    "/me/daemons/:id/connection-ticket",
    forThisDaemon(Effect.gen(function*() {
      const ticket = yield* (yield* p2pGrants).daemonTicket
      const body: HeyoDaemon.ConnectionTicketBody = { connectionUrl: ticket, connection_url: ticket }
      return yield* HttpServerResponse.json(body)
    }))
  ),
  HttpRouter.get(
    "/me/daemons/:id/sandboxes",
    forThisDaemon(Effect.gen(function*() {
      const daemon = yield* DaemonIdentity
      const records = yield* (yield* Sandboxes).list()
      return yield* HttpServerResponse.schemaJson(HeyoDaemon.DaemonSandboxes)(
        new HeyoDaemon.DaemonSandboxes({
          daemonId: daemon.id,
          daemonName: daemon.name,
          sandboxes: records.map((record) =>
            new HeyoDaemon.DaemonSandbox({
              id: record.id,
              name: record.name,
              status: record.status,
              image: record.image,
              backendType: "bubblewrap",
              isDeployed: true
            })
          )
        })
      )
    }))
  )
)
