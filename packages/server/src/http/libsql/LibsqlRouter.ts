/**
 * The libsql remote protocol a connection token's `url` points at (`/libsql/<database id>/`):
 * Hrana over HTTP as in the Hrana 3 specification, JSON encoding.
 *
 * - `GET v1`, `v2`, `v3`: 200 (supported); `GET v3-protobuf`: 404, so clients fall back to JSON
 *   (stock @libsql/client then speaks `v2/pipeline`).
 * - `POST v2/pipeline`, `v3/pipeline`: stream requests with batons; a stream left inside a
 *   transaction keeps the database's writer lock until it ends or idles out.
 * - `POST v3/cursor`: a batch whose results come back as NDJSON cursor entries.
 * - `POST v1/execute` (`{stmt}` -> `{result}`; also `{statements: [{sql, args?}]}` ->
 *   `{results}`) and `POST v1/batch` (`{batch}` -> `{result}`): one-off streams.
 *
 * Every POST needs `Authorization: Bearer heyo_db_...` for this database; an unknown, revoked
 * or expired token gets `401 {"message": "Invalid connection token: ..."}`. Errors are Hrana
 * `Error` bodies `{message, code}`.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type {
  DatabaseNotFound,
  SqlFailed,
  SqlTimedOut,
  SqlWorkerFailed,
  StreamExpired,
  TokenRefused
} from "../../database/DatabaseError.js"
import { Databases } from "../../database/Databases.js"
import * as Body from "../Body.js"

const hranaError = (status: number, message: string, code?: string) =>
  HttpServerResponse.unsafeJson({ message, ...(code === undefined ? {} : { code }) }, { status })

/** A request that is not Hrana: not JSON, a missing field, a bad baton type. */
class ProtocolError extends Data.TaggedError("ProtocolError")<{ readonly message: string }> {}

const bodyJson = Effect.flatMap(Body.text, (text) => {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? Effect.succeed(value as Record<string, unknown>)
      : Effect.fail(new ProtocolError({ message: "the request body must be a JSON object" }))
  } catch (e) {
    return Effect.fail(new ProtocolError({ message: `the request body is not valid JSON: ${(e as Error).message}` }))
  }
})

/** The token of this request, checked against the database in the path. */
const token = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = yield* HttpRouter.params
  const header = request.headers["authorization"] ?? ""
  const match = /^Bearer\s+(.+)$/i.exec(header)
  const secret = match === null ? "" : match[1]!.trim()
  return yield* (yield* Databases).authenticate(params["id"] ?? "", secret)
})

type Refusal = TokenRefused | ProtocolError | StreamExpired | DatabaseNotFound | SqlFailed | SqlTimedOut | SqlWorkerFailed

const refusalTags: ReadonlySet<string> = new Set<Refusal["_tag"]>([
  "TokenRefused",
  "ProtocolError",
  "StreamExpired",
  "DatabaseNotFound",
  "SqlFailed",
  "SqlTimedOut",
  "SqlWorkerFailed"
])

const toResponse = (e: Refusal): HttpServerResponse.HttpServerResponse => {
  switch (e._tag) {
    case "TokenRefused":
      return hranaError(401, e.message, "UNAUTHORIZED")
    case "ProtocolError":
      return hranaError(400, e.message, "HRANA_PROTO_ERROR")
    case "StreamExpired":
      return hranaError(400, e.message, "STREAM_EXPIRED")
    case "DatabaseNotFound":
      return hranaError(404, e.message, "NOT_FOUND")
    case "SqlFailed":
      return hranaError(400, e.message, e.code)
    case "SqlTimedOut":
      return hranaError(504, e.message, "STATEMENT_TIMEOUT")
    case "SqlWorkerFailed":
      return hranaError(500, e.message, "INTERNAL")
  }
}

const refusals = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchIf(
    effect,
    (e): e is Extract<E, Refusal> =>
      typeof e === "object" && e !== null && refusalTags.has((e as { readonly _tag?: string })._tag ?? ""),
    (e) => Effect.succeed(toResponse(e))
  )

const pipeline = Effect.gen(function*() {
  const tok = yield* token
  const body = yield* bodyJson
  const baton = body["baton"] ?? null
  if (baton !== null && typeof baton !== "string") return yield* new ProtocolError({ message: "baton must be a string or null" })
  if (!Array.isArray(body["requests"])) return yield* new ProtocolError({ message: "requests must be an array" })
  const out = yield* (yield* Databases).pipeline(tok, baton, body["requests"])
  return HttpServerResponse.unsafeJson({ baton: out.baton, base_url: null, results: out.results })
}).pipe(refusals)

interface StreamResult {
  readonly type: "ok" | "error"
  readonly response?: { readonly result?: unknown }
  readonly error?: { readonly message: string; readonly code?: string }
}

/** Runs `requests` on a fresh stream that closes right after; answers the first result. */
const oneShot = (requests: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const tok = yield* token
    const out = yield* (yield* Databases).pipeline(tok, null, [...requests, { type: "close" }])
    return out.results as ReadonlyArray<StreamResult>
  })

const okOrError = (result: StreamResult | undefined, answer: (value: unknown) => unknown) =>
  result?.type === "ok"
    ? HttpServerResponse.unsafeJson(answer(result.response?.result))
    : hranaError(400, result?.error?.message ?? "the statement failed", result?.error?.code)

const execute = Effect.gen(function*() {
  const body = yield* bodyJson
  if (Array.isArray(body["statements"])) {
    const statements = body["statements"] as ReadonlyArray<unknown>
    const steps = statements.map((s) => {
      const stmt = typeof s === "string" ? { sql: s } : s as Record<string, unknown>
      return { type: "execute", stmt: { sql: stmt["sql"] ?? stmt["q"], args: stmt["args"] ?? [] } }
    })
    const results = yield* oneShot(steps)
    const failed = results.slice(0, steps.length).find((r) => r.type === "error")
    if (failed !== undefined) return hranaError(400, failed.error?.message ?? "a statement failed", failed.error?.code)
    return HttpServerResponse.unsafeJson({ results: results.slice(0, steps.length).map((r) => r.response?.result) })
  }
  if (typeof body["stmt"] !== "object" || body["stmt"] === null) {
    return yield* new ProtocolError({ message: "v1/execute needs {stmt} (or {statements: [...]})" })
  }
  const results = yield* oneShot([{ type: "execute", stmt: body["stmt"] }])
  return okOrError(results[0], (result) => ({ result }))
}).pipe(refusals)

const batch = Effect.gen(function*() {
  const body = yield* bodyJson
  if (typeof body["batch"] !== "object" || body["batch"] === null) return yield* new ProtocolError({ message: "v1/batch needs {batch}" })
  const results = yield* oneShot([{ type: "batch", batch: body["batch"] }])
  return okOrError(results[0], (result) => ({ result }))
}).pipe(refusals)

interface BatchResult {
  readonly step_results: ReadonlyArray<{ cols: unknown; rows: ReadonlyArray<unknown>; affected_row_count: number; last_insert_rowid: string | null } | null>
  readonly step_errors: ReadonlyArray<{ message: string; code?: string } | null>
}

/** `v3/cursor`: the batch runs whole, then its result is sent as cursor entries, one per line. */
const cursor = Effect.gen(function*() {
  const tok = yield* token
  const body = yield* bodyJson
  const baton = body["baton"] ?? null
  if (baton !== null && typeof baton !== "string") return yield* new ProtocolError({ message: "baton must be a string or null" })
  const out = yield* (yield* Databases).pipeline(tok, baton, [{ type: "batch", batch: body["batch"] }])
  const lines: Array<unknown> = [{ baton: out.baton, base_url: null }]
  const first = out.results[0] as StreamResult | undefined
  if (first?.type !== "ok") {
    lines.push({ type: "error", error: first?.error ?? { message: "the batch failed" } })
  } else {
    const result = first.response?.result as BatchResult
    result.step_results.forEach((step, i) => {
      const error = result.step_errors[i]
      if (error !== null && error !== undefined) lines.push({ type: "step_error", step: i, error })
      else if (step !== null) {
        lines.push({ type: "step_begin", step: i, cols: step.cols })
        for (const row of step.rows) lines.push({ type: "row", row })
        lines.push({ type: "step_end", affected_row_count: step.affected_row_count, last_insert_rowid: step.last_insert_rowid })
      }
    })
  }
  return HttpServerResponse.text(lines.map((l) => JSON.stringify(l)).join("\n") + "\n", { contentType: "text/plain" })
}).pipe(refusals)

const supported = HttpServerResponse.text("", { status: 200 })

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/libsql/:id", Effect.succeed(supported)),
  HttpRouter.get("/libsql/:id/v1", Effect.succeed(supported)),
  HttpRouter.get("/libsql/:id/v2", Effect.succeed(supported)),
  HttpRouter.get("/libsql/:id/v3", Effect.succeed(supported)),
  HttpRouter.get(
    "/libsql/:id/v3-protobuf",
    Effect.succeed(hranaError(404, "the Protobuf encoding is not implemented: use JSON (v3 or v2)", "NOT_FOUND"))
  ),
  HttpRouter.post("/libsql/:id/v1/execute", execute),
  HttpRouter.post("/libsql/:id/v1/batch", batch),
  HttpRouter.post("/libsql/:id/v2/pipeline", pipeline),
  HttpRouter.post("/libsql/:id/v3/pipeline", pipeline),
  HttpRouter.post("/libsql/:id/v3/cursor", cursor)
)

/** True for requests this router owns. */
export const handles = (url: string) => url.startsWith("/libsql/")
