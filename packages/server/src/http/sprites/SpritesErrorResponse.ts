/**
 * Sprites-dialect responses: the error body `{error, message}` with the status codes of
 * reference/sprites-api.md §4.10, and the `Sprite-Version` header every response carries (§9.7).
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { RouteError } from "../RouteError.js"

/**
 * A release string: the Go SDK then uses path attach and the WebSocket signal (§1.3), which is
 * what heyod offers.
 */
export const spriteVersion = "v0.1.0"

export const withVersion = (response: HttpServerResponse.HttpServerResponse) =>
  HttpServerResponse.setHeader(response, "Sprite-Version", spriteVersion)

const statusAndCode = (error: RouteError): readonly [number, string] => {
  switch (error._tag) {
    case "SandboxNotFound":
    case "SessionNotFound":
      return [404, "not_found"]
    case "Gone":
      return [410, "gone"]
    case "InvalidRequest":
    case "BadRequest":
      return [400, "bad_request"]
    case "Unauthorized":
      return [401, "unauthorized"]
    case "Conflict":
      return [409, "conflict"]
    case "PayloadTooLarge":
      return [413, "payload_too_large"]
    case "TimedOut":
      return [504, "timeout"]
    case "HostFailure":
      return [500, "internal_error"]
    case "FileFailed":
      switch (error.reason) {
        case "NotFound":
          return [404, "not_found"]
        case "Other":
          return [500, "internal_error"]
        default:
          return [400, "bad_request"]
      }
  }
}

export const errorResponse = (status: number, error: string, message: string) =>
  withVersion(HttpServerResponse.unsafeJson({ error, message }, { status }))

/** A missing sprite reads as the Sprites cloud says it ("sprite not found: x"), not as a sandbox. */
export const fromError = (error: RouteError) => {
  const [status, code] = statusAndCode(error)
  const message = error._tag === "SandboxNotFound" ? `sprite not found: ${error.sandboxId}` : error.message
  return errorResponse(status, code, message)
}

/** A bug in heyod still answers in the dialect's shape, and is logged with its cause. */
export const fromDefect = (cause: Cause.Cause<unknown>) =>
  // The client went away (the platform interrupts its request): nobody reads an answer, and a
  // body written to a socket that is gone (an upgraded one above all) would never finish
  // writing, holding heyod's shutdown forever.
  Cause.isInterruptedOnly(cause) ? Effect.succeed(HttpServerResponse.empty({ status: 499 })) : Effect.logError("request failed unexpectedly", cause).pipe(
    Effect.as(errorResponse(500, "internal_error", `internal error: ${Cause.pretty(cause).split("\n")[0]}`))
  )
