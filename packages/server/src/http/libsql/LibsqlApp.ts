/**
 * The libsql endpoints as one HTTP app. It sits beside the dialect apps, not inside them: its
 * credential is a database's connection token, never heyod's API key. Every failure answers
 * with a Hrana `Error` body.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { isRouteError } from "../RouteError.js"
import { router } from "./LibsqlRouter.js"

export { handles } from "./LibsqlRouter.js"

const hranaError = (status: number, message: string, code: string) =>
  HttpServerResponse.unsafeJson({ message, code }, { status })

export const app = router.pipe(
  Effect.catchTag("RouteNotFound", () =>
    Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
      hranaError(404, `no libsql route ${request.method} ${new URL(request.url, "http://heyod").pathname}`, "NOT_FOUND"))),
  Effect.catchAll((error) =>
    isRouteError(error)
      ? Effect.succeed(hranaError(error._tag === "PayloadTooLarge" ? 413 : 400, error.message, "HRANA_PROTO_ERROR"))
      : Effect.die(error)
  ),
  Effect.catchAllCause((cause) =>
    Effect.logError("libsql request failed unexpectedly", cause).pipe(
      Effect.as(hranaError(500, `internal error: ${Cause.pretty(cause).split("\n")[0]}`, "INTERNAL"))
    )
  )
)
