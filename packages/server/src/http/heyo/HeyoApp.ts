/**
 * The Heyo-dialect HTTP app: authentication, the router, and every failure turned into the
 * dialect's error shape. Encoding failures of our own responses are bugs, answered as 500.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Auth from "../Auth.js"
import { isRouteError } from "../RouteError.js"
import { errorResponse, fromDefect, fromError } from "./ErrorResponse.js"
import { router } from "./HeyoRouter.js"


export const app = Auth.requireKey.pipe(
  Effect.zipRight(router),
  Effect.catchTag("RouteNotFound", () =>
    Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
      errorResponse(404, `no route ${request.method} ${new URL(request.url, "http://heyod").pathname}`))),
  Effect.catchAll((error) => isRouteError(error) ? Effect.succeed(fromError(error)) : Effect.die(error)),
  Effect.catchAllCause(fromDefect)
)
