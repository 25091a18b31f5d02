/**
 * `WSS /v1/sprites/{name}/proxy` (reference/sprites-api.md §2.12): the client's first text frame
 * is `{"host","port"}`; heyod connects to that port inside the sandbox (through its forwarder)
 * and answers `{"status":"connected","target":"host:port"}`, then relays raw binary frames (one
 * WebSocket per TCP connection). `host` may be `localhost`, a loopback address or the sprite's
 * own name: a sandbox's network has nothing else. A failure is `{"status":"error","message"}`
 * and a close 1011 (1008 for a bad init frame).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesTunnelProxy } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Conflict } from "../../engine/EngineError.js"
import * as Network from "../../network/Network.js"
import * as TcpRelay from "../../network/TcpRelay.js"
import { BadRequest } from "../HttpErrors.js"
import * as WebSocketUpgrade from "../WebSocketUpgrade.js"
import { sprite } from "./SpriteLookup.js"
import { spriteVersion } from "./SpritesErrorResponse.js"

const initTimeout = "30 seconds"
const decodeInit = Schema.decodeUnknownOption(SpritesTunnelProxy.ProxyInitFromJson)
const encodeStatus = Schema.encodeSync(SpritesTunnelProxy.ProxyStatusFromJson)

const loopbackHosts = new Set(["localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"])

export const route = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const record = yield* sprite
  if (!WebSocketUpgrade.isUpgrade(request)) {
    return yield* new BadRequest({ message: "proxy needs a WebSocket upgrade (Upgrade: websocket)" })
  }
  if (record.status !== "running") {
    return yield* new Conflict({ message: `sprite ${record.name} is ${record.status}, not running` })
  }
  const network = yield* Network.required
  yield* Effect.scoped(Effect.gen(function*() {
    const socket = yield* WebSocketUpgrade.accept({ "Sprite-Version": spriteVersion })
    const fail = (code: number, message: string) =>
      socket.send(encodeStatus(new SpritesTunnelProxy.ProxyStatus({ status: "error", message }))).pipe(
        Effect.zipRight(socket.close(code, message.slice(0, 120)))
      )
    const first = yield* socket.messages.pipe(
      Stream.filter((m): m is string => typeof m === "string"),
      Stream.runHead,
      Effect.timeout(initTimeout),
      Effect.option,
      Effect.map(Option.flatten)
    )
    if (Option.isNone(first)) return yield* fail(1008, `no {"host","port"} frame within ${initTimeout}`)
    const init = decodeInit(first.value)
    if (Option.isNone(init)) return yield* fail(1008, `the first frame must be {"host":"localhost","port":1-65535}`)
    const { host, port } = init.value
    if (!loopbackHosts.has(host.toLowerCase()) && host !== record.name) {
      return yield* fail(1011, `${host}: a sprite's proxy reaches only its own ports (host localhost)`)
    }
    const tcp = yield* network.connectPort(record.id, port).pipe(Effect.either)
    if (tcp._tag === "Left") return yield* fail(1011, tcp.left.message)
    yield* socket.send(encodeStatus(new SpritesTunnelProxy.ProxyStatus({ status: "connected", target: `${host}:${port}` })))
    yield* TcpRelay.relay(socket, tcp.right)
  }))
  return HttpServerResponse.empty()
})
