/**
 * Every refusal a route can answer with: the engine's and the HTTP layer's. Each dialect maps
 * them to its own status codes and error bodies; anything else reaching a dialect app is a bug.
 */
import type { EngineError } from "../engine/EngineError.js"
import type { BadRequest, PayloadTooLarge, Unauthorized } from "./HttpErrors.js"

export type RouteError = EngineError | BadRequest | PayloadTooLarge | Unauthorized

const tags: ReadonlySet<string> = new Set<RouteError["_tag"]>([
  "SandboxNotFound",
  "InvalidRequest",
  "Conflict",
  "FileFailed",
  "HostFailure",
  "TimedOut",
  "SessionNotFound",
  "Gone",
  "BadRequest",
  "PayloadTooLarge",
  "Unauthorized"
])

export const isRouteError = (error: { readonly _tag: string }): error is RouteError => tags.has(error._tag)
