/**
 * Sprites network policy (reference/sprites-api.md §2.8, §9.3): `GET` answers `{rules}`, `POST`
 * replaces the whole policy and answers 204 with no body (the JS and Go SDKs accept only 204);
 * an invalid rule is a 400 naming it. `{rules: []}` lifts enforcement.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesNetworkPolicy } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Network from "../../network/Network.js"
import * as Body from "../Body.js"
import { sprite } from "./SpriteLookup.js"

export const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/v1/sprites/:name/policy/network",
    Effect.gen(function*() {
      const record = yield* sprite
      const policy = yield* (yield* Network.required).getPolicy(record.id)
      return yield* HttpServerResponse.schemaJson(SpritesNetworkPolicy.NetworkPolicy)(
        SpritesNetworkPolicy.NetworkPolicy.make({ rules: policy.rules })
      )
    })
  ),
  HttpRouter.post(
    "/v1/sprites/:name/policy/network",
    Effect.gen(function*() {
      const record = yield* sprite
      const policy = yield* Body.json(SpritesNetworkPolicy.NetworkPolicy)
      yield* (yield* Network.required).setPolicy(record.id, policy)
      return HttpServerResponse.empty({ status: 204 })
    })
  )
)
