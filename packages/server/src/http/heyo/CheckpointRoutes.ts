/**
 * Heyo cold store (reference/heyo-api.md §2.1): `checkpoint` stops everything and keeps the disk
 * (status `cold-stored`), `restore` brings the sandbox back to `running`. The SDKs ignore the
 * bodies; heyod answers with the sandbox's info.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeyoSandbox } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import { Checkpoints } from "../../engine/Checkpoints.js"
import { sandboxInfo } from "./SandboxView.js"

const sandboxId = Effect.map(HttpRouter.params, (params) => params["id"] ?? "")

export const router = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/deployed-sandboxes/:id/checkpoint",
    Effect.gen(function*() {
      const record = yield* (yield* Checkpoints).coldStore(yield* sandboxId)
      return yield* HttpServerResponse.schemaJson(HeyoSandbox.SandboxInfo)(sandboxInfo(record))
    })
  ),
  HttpRouter.post(
    "/deployed-sandboxes/:id/restore",
    Effect.gen(function*() {
      const record = yield* (yield* Checkpoints).wake(yield* sandboxId)
      return yield* HttpServerResponse.schemaJson(HeyoSandbox.SandboxInfo)(sandboxInfo(record))
    })
  )
)
