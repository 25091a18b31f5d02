/**
 * Bearer-key authentication. Compared in constant time (hashing both sides first, so neither the
 * key's content nor its length leaks through timing).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import { ServerConfig } from "../ServerConfig.js"
import * as ArchiveRoutes from "./heyo/ArchiveRoutes.js"
import * as TunnelRoutes from "./heyo/TunnelRoutes.js"
import { Unauthorized } from "./HttpErrors.js"

const digest = (value: string) => crypto.createHash("sha256").update(value).digest()

export const keyMatches = (expected: Redacted.Redacted<string>, presented: string): boolean =>
  crypto.timingSafeEqual(digest(Redacted.value(expected)), digest(presented))

/** Routes that carry their own credential, or none. */
const isPublic = (pathname: string, method: string) =>
  pathname === "/health" || /^\/sqlite-databases\/[^/]+\/connection-info$/.test(pathname) ||
  // a presigned archive upload: its URL carries its own signed, expiring credential
  (method === "PUT" && ArchiveRoutes.uploadPath.test(pathname)) ||
  // a tunnel ticket's WebSocket: its grant is the credential (TunnelRoutes.ts)
  (method === "GET" && TunnelRoutes.socketPathPattern.test(pathname))

export const requireKey = Effect.gen(function*() {
  const { apiKey } = yield* ServerConfig
  if (apiKey === undefined) return
  const request = yield* HttpServerRequest.HttpServerRequest
  const pathname = new URL(request.url, "http://heyod").pathname
  if (isPublic(pathname, request.method)) return
  // Browsers cannot set headers on a WebSocket: the Heyo shell takes `?token=` (reference §4).
  const token = pathname.endsWith("/shell-stream") ? new URL(request.url, "http://heyod").searchParams.get("token") : null
  const header = request.headers["authorization"] ?? (token !== null ? `Bearer ${token}` : undefined)
  if (header === undefined) {
    return yield* new Unauthorized({ message: "missing API key: send Authorization: Bearer <key>" })
  }
  const match = /^Bearer\s+(.+)$/i.exec(header)
  if (match === null || !keyMatches(apiKey, match[1]!.trim())) {
    return yield* new Unauthorized({ message: "invalid API key" })
  }
})
