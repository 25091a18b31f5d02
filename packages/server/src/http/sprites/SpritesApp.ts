/**
 * The Sprites-dialect HTTP app: the same bearer authentication as the Heyo app (no `?token=`),
 * the router, `Sprite-Version` on every response, and every failure as `{error, message}`.
 * It serves every path under `/v1/sprites`, so an unknown one is a Sprites 404, not a Heyo one.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Auth from "../Auth.js"
import { isRouteError } from "../RouteError.js"
import { router } from "./SpritesRouter.js"
import { errorResponse, fromDefect, fromError, withVersion } from "./SpritesErrorResponse.js"


export const prefix = "/v1/sprites"

export const handles = (url: string) => {
  const pathname = new URL(url, "http://heyod").pathname
  return pathname === prefix || pathname.startsWith(`${prefix}/`)
}

export const app = Auth.requireKey.pipe(
  Effect.zipRight(router),
  Effect.map(withVersion),
  Effect.catchTag("RouteNotFound", () =>
    Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
      errorResponse(404, "not_found", `no route ${request.method} ${new URL(request.url, "http://heyod").pathname}`))),
  Effect.catchAll((error) => isRouteError(error) ? Effect.succeed(fromError(error)) : Effect.die(error)),
  Effect.catchAllCause(fromDefect)
)
