/**
 * `WSS /v1/sprites/{name}/fs/watch` (reference/sprites-api.md §2.10): the client's first text
 * frame subscribes (`{"type":"subscribe","paths","recursive","workingDir"}`), the server answers
 * `{"type":"subscribed","paths"}` then one `{"type":"event",...}` per change, until the client
 * closes. A refusal (a bad subscribe, a path that does not exist) is an `{"type":"error"}` frame
 * and a close 1000. The watcher runs inside the sandbox like every fs operation and dies with the
 * socket; events are read from it only as the client takes them (the socket's flow control), so
 * a flood of changes under a slow client holds bounded memory in heyod.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesFs } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { SandboxFs } from "../../files/SandboxFs.js"
import { BadRequest } from "../HttpErrors.js"
import * as WebSocketUpgrade from "../WebSocketUpgrade.js"
import { sprite } from "./SpriteLookup.js"
import { spriteVersion } from "./SpritesErrorResponse.js"

/** How long a client may take to send its subscribe frame. */
const subscribeTimeout = "30 seconds"

const encode = Schema.encodeSync(Schema.parseJson(SpritesFs.WatchServerMessage))
const decodeSubscribe = Schema.decodeUnknownOption(SpritesFs.WatchSubscribeFromJson)

export const route = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const record = yield* sprite
  if (!WebSocketUpgrade.isUpgrade(request)) {
    return yield* new BadRequest({ message: "fs/watch needs a WebSocket upgrade (Upgrade: websocket)" })
  }
  const fs = yield* SandboxFs
  yield* Effect.scoped(Effect.gen(function*() {
    const socket = yield* WebSocketUpgrade.accept({ "Sprite-Version": spriteVersion })
    const send = (message: SpritesFs.WatchServerMessage) => socket.send(encode(message))
    const refuse = (message: string) => send(new SpritesFs.WatchError({ message })).pipe(Effect.zipRight(socket.close(1000)))

    const session = Effect.gen(function*() {
      const first = yield* socket.messages.pipe(
        Stream.filter((m): m is string => typeof m === "string"),
        Stream.runHead,
        Effect.timeout(subscribeTimeout),
        Effect.option,
        Effect.map(Option.flatten)
      )
      if (Option.isNone(first)) return yield* refuse(`no subscribe frame within ${subscribeTimeout}`)
      const subscribe = decodeSubscribe(first.value)
      if (Option.isNone(subscribe) || subscribe.value.paths.length === 0) {
        return yield* refuse("the first frame must be {\"type\":\"subscribe\",\"paths\":[...],\"recursive\":bool,\"workingDir\":\"/\"}")
      }
      yield* Effect.scoped(Effect.gen(function*() {
        const { messages, paths } = yield* fs.watch(record.id, subscribe.value)
        yield* send(new SpritesFs.WatchSubscribed({ paths }))
        yield* Stream.runForEach(messages, send)
        // the watcher ended on its own: the sandbox stopped
        yield* refuse("the watch ended: the sandbox stopped")
      })).pipe(Effect.catchAll((error) => refuse(error.message)))
    })

    // Whichever ends first: the client closing, or the session (after a refusal's close).
    yield* Effect.raceFirst(session.pipe(Effect.zipRight(socket.closed)), socket.closed)
  }))
  // Written nowhere: the connection belonged to the WebSocket.
  return HttpServerResponse.empty()
})
