/**
 * `WSS /v1/sprites/{name}/ports/watch` (reference/sprites-api.md §2.11): `port_list` on connect,
 * then `port_opened` / `port_closed` as TCP listeners appear and go inside the sandbox (polled
 * every 250 ms from the host, PortWatch.ts). The client sends nothing; a stopped sandbox ends the
 * watch with a close 1000.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesNetworkPorts } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Conflict } from "../../engine/EngineError.js"
import * as Network from "../../network/Network.js"
import type { Listener } from "../../network/PortWatch.js"
import { BadRequest } from "../HttpErrors.js"
import * as WebSocketUpgrade from "../WebSocketUpgrade.js"
import { sprite } from "./SpriteLookup.js"
import { spriteVersion } from "./SpritesErrorResponse.js"

const interval = "250 millis"
const encode = Schema.encodeSync(SpritesNetworkPorts.PortMessageFromJson)
const keyOf = (l: Listener) => `${l.address}:${l.port}`
const notification = (l: Listener) => new SpritesNetworkPorts.PortNotification(l)

export const route = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const record = yield* sprite
  if (!WebSocketUpgrade.isUpgrade(request)) {
    return yield* new BadRequest({ message: "ports/watch needs a WebSocket upgrade (Upgrade: websocket)" })
  }
  const network = yield* Network.required
  const initial = network.listeners(record.id)
  if (record.status !== "running" || initial === undefined) {
    return yield* new Conflict({ message: `sprite ${record.name} is ${record.status}, not running` })
  }
  yield* Effect.scoped(Effect.gen(function*() {
    const socket = yield* WebSocketUpgrade.accept({ "Sprite-Version": spriteVersion })
    let known = new Map(initial.map((l) => [keyOf(l), l]))
    yield* socket.send(encode({ type: "port_list", ports: initial.map(notification) }))
    const poll = Effect.gen(function*() {
      while (socket.isOpen()) {
        yield* Effect.sleep(interval)
        const now = network.listeners(record.id)
        if (now === undefined) return yield* socket.close(1000, "the sandbox stopped")
        const next = new Map(now.map((l) => [keyOf(l), l]))
        for (const [key, l] of known) {
          if (!next.has(key)) yield* socket.send(encode({ type: "port_closed", ...l }))
        }
        for (const [key, l] of next) {
          if (!known.has(key)) yield* socket.send(encode({ type: "port_opened", ...l }))
        }
        known = next
      }
    })
    // the client's frames are read (and dropped) so its close is seen
    yield* Effect.raceFirst(poll, Stream.runDrain(socket.messages))
  }))
  return HttpServerResponse.empty()
})
