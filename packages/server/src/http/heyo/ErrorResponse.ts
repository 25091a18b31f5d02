/**
 * Heyo-dialect error responses: the status codes of reference/heyo-api.md §2.9 and the body
 * `{"message": "..."}`, always with a human-readable message.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { RouteError } from "../RouteError.js"

export const statusOf = (error: RouteError): number => {
  switch (error._tag) {
    case "SandboxNotFound":
    case "SessionNotFound":
      return 404
    case "Gone":
      return 410
    case "InvalidRequest":
    case "BadRequest":
      return 400
    case "Unauthorized":
      return 401
    case "Conflict":
      return 409
    case "PayloadTooLarge":
      return 413
    case "TimedOut":
      return 504
    case "HostFailure":
      return 500
    case "FileFailed":
      switch (error.reason) {
        case "NotFound":
          return 404
        case "Other":
          return 500
        default:
          return 400
      }
  }
}

export const errorResponse = (status: number, message: string) =>
  HttpServerResponse.unsafeJson({ message }, { status })

export const fromError = (error: RouteError) => errorResponse(statusOf(error), error.message)

/** A bug in heyod still answers in the dialect's shape, and is logged with its cause. */
export const fromDefect = (cause: Cause.Cause<unknown>) =>
  // The client went away (the platform interrupts its request): nobody reads an answer, and a
  // body written to a socket that is gone (an upgraded one above all) would never finish
  // writing, holding heyod's shutdown forever.
  Cause.isInterruptedOnly(cause) ? Effect.succeed(HttpServerResponse.empty({ status: 499 })) : Effect.logError("request failed unexpectedly", cause).pipe(
    Effect.as(errorResponse(500, `internal error: ${Cause.pretty(cause).split("\n")[0]}`))
  )
