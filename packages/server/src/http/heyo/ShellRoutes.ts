/**
 * The Heyo shell WebSocket's routes: the cloud path and the local daemon's shortcut
 * (reference/heyo-api.md §4). The sandbox is checked before the upgrade, so an unknown one is a
 * plain 404 and a stopped one a 409, with the dialect's `{message}` body.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { Conflict } from "../../engine/EngineError.js"
import { Sandboxes } from "../../engine/Sandboxes.js"
import { BadRequest } from "../HttpErrors.js"
import { isUpgrade } from "../WebSocketUpgrade.js"
import * as ShellSocket from "./ShellSocket.js"

const shellStream = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = yield* HttpRouter.params
  const record = yield* (yield* Sandboxes).get(params["id"] ?? "")
  if (!isUpgrade(request)) return yield* new BadRequest({ message: "shell-stream needs a WebSocket upgrade (Upgrade: websocket)" })
  if (record.status !== "running") {
    return yield* new Conflict({ message: `sandbox ${record.id} is ${record.status}, not running` })
  }
  yield* ShellSocket.serve(record.id)
  // The exchange owned the connection: nothing is written as an HTTP response.
  return HttpServerResponse.empty()
})

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/deployed-sandboxes/:id/shell-stream", shellStream),
  HttpRouter.get("/sandboxes/:id/shell-stream", shellStream)
)
