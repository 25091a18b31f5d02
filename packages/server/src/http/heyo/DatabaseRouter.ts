/**
 * The Heyo dialect's database routes (reference/heyo-api.md §2.6): exact paths, snake_case
 * bodies and `{message}` errors over the database engine. `exec` bodies are read and written
 * with the lossless SqlJson codec, so 64-bit integers and `1.0` survive the trip.
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeyoDatabase, SqlJson } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { DatabaseRecord, TokenRecord } from "../../database/Catalog.js"
import type {
  DatabaseConflict,
  DatabaseInvalid,
  DatabaseNotFound,
  SqlFailed,
  SqlTimedOut,
  SqlWorkerFailed,
  TokenNotFound,
  VersionConflict
} from "../../database/DatabaseError.js"
import { Databases } from "../../database/Databases.js"
import * as Body from "../Body.js"
import { BadRequest, PayloadTooLarge } from "../HttpErrors.js"
import { errorResponse } from "./ErrorResponse.js"

/** Largest accepted check-in upload (gzip bytes). */
export const MAX_CHECKIN_BYTES = 512 * 1024 * 1024

const databaseId = Effect.map(HttpRouter.params, (params) => params["id"] ?? "")

export const databaseInfo = (record: DatabaseRecord) =>
  new HeyoDatabase.DatabaseInfo({
    id: HeyoDatabase.DatabaseId.make(record.id),
    name: record.name,
    userId: "local",
    accountId: null,
    backendServerId: null,
    backendDatabaseId: null,
    region: record.region,
    status: record.status,
    engine: record.engine,
    sizeClass: record.sizeClass,
    s3Key: null,
    walS3Prefix: null,
    errorMessage: null,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    statusChangedAt: record.statusChangedAt
  })

const tokenInfo = (token: TokenRecord) =>
  new HeyoDatabase.TokenInfo({
    id: token.id,
    databaseId: token.databaseId,
    scopes: token.scopes,
    revoked: token.revoked,
    expiresAt: token.expiresAt,
    createdAt: token.createdAt,
    lastUsedAt: token.lastUsedAt
  })

/** The libsql base URL of a database, on the address the client reached heyod by. */
export const libsqlUrl = (request: HttpServerRequest.HttpServerRequest, id: string) => {
  const host = request.headers["host"] ?? "127.0.0.1"
  return `http://${host}/libsql/${encodeURIComponent(id)}/`
}

const formatParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "body"}: ${issue.message}`)
    .join("; ")

/** A JSON body read losslessly (SqlJson), decoded with `schema`. */
const losslessBody = <A, I>(schema: Schema.Schema<A, I>) =>
  Effect.gen(function*() {
    const text = yield* Body.text
    let value: unknown
    try {
      value = SqlJson.parse(text)
    } catch (e) {
      return yield* new BadRequest({ message: `request body is not valid JSON: ${(e as Error).message}` })
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return yield* new BadRequest({ message: "request body must be a JSON object" })
    }
    return yield* Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })(value).pipe(
      Effect.mapError((error) => new BadRequest({ message: formatParseError(error) }))
    )
  })

const losslessJson = <A, I>(schema: Schema.Schema<A, I>, value: A, status = 200) =>
  Schema.encode(schema)(value).pipe(
    Effect.orDie,
    Effect.map((encoded) => HttpServerResponse.text(SqlJson.stringify(encoded), { status, contentType: "application/json" }))
  )

const json = <A, I>(schema: Schema.Schema<A, I>, value: A, status = 200) =>
  HttpServerResponse.schemaJson(schema)(value, { status }).pipe(Effect.orDie)

type Refusal =
  | DatabaseNotFound
  | TokenNotFound
  | DatabaseInvalid
  | SqlFailed
  | DatabaseConflict
  | VersionConflict
  | SqlTimedOut
  | SqlWorkerFailed

const refusalTags: ReadonlySet<string> = new Set<Refusal["_tag"]>([
  "DatabaseNotFound",
  "TokenNotFound",
  "DatabaseInvalid",
  "SqlFailed",
  "DatabaseConflict",
  "VersionConflict",
  "SqlTimedOut",
  "SqlWorkerFailed"
])

const toResponse = (e: Refusal): HttpServerResponse.HttpServerResponse => {
  switch (e._tag) {
    case "DatabaseNotFound":
    case "TokenNotFound":
      return errorResponse(404, e.message)
    case "DatabaseInvalid":
      return errorResponse(400, e.message)
    case "SqlFailed":
      return errorResponse(400, `${e.statement === undefined ? "" : `statement ${e.statement}: `}${e.message} (${e.code})`)
    case "DatabaseConflict":
      return errorResponse(409, e.message)
    case "VersionConflict":
      return HttpServerResponse.unsafeJson({ message: e.message, current_version: e.current }, { status: 409 })
    case "SqlTimedOut":
      return errorResponse(504, e.message)
    case "SqlWorkerFailed":
      return errorResponse(500, e.message)
  }
}

/** The engine's refusals in the Heyo shape; anything else goes on to the dialect app. */
const refusals = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchIf(
    effect,
    (e): e is Extract<E, Refusal> =>
      typeof e === "object" && e !== null && refusalTags.has((e as { readonly _tag?: string })._tag ?? ""),
    (e) => Effect.succeed(toResponse(e))
  )

const integerParam = (query: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>, name: string) => {
  const raw = query[name]
  if (raw === undefined) return Effect.succeed(undefined)
  const value = typeof raw === "string" ? raw : raw[0] ?? ""
  return /^-?\d+$/.test(value)
    ? Effect.succeed(Number(value))
    : Effect.fail(new BadRequest({ message: `${name} must be an integer, got "${value}"` }))
}

export const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/sqlite-regions",
    Effect.flatMap(Databases, (dbs) => json(HeyoDatabase.RegionList, new HeyoDatabase.RegionList({ regions: dbs.regions })))
  ),
  HttpRouter.post(
    "/sqlite-databases",
    Effect.gen(function*() {
      const body = yield* Body.json(HeyoDatabase.DatabaseCreateBody)
      const record = yield* (yield* Databases).create(body)
      return yield* json(HeyoDatabase.DatabaseInfo, databaseInfo(record), 201)
    }).pipe(refusals)
  ),
  HttpRouter.get(
    "/sqlite-databases",
    Effect.gen(function*() {
      const records = yield* (yield* Databases).list
      return yield* json(HeyoDatabase.DatabaseList, new HeyoDatabase.DatabaseList({ databases: records.map(databaseInfo) }))
    })
  ),
  HttpRouter.get(
    "/sqlite-databases/:id",
    Effect.gen(function*() {
      const record = yield* (yield* Databases).get(yield* databaseId)
      return yield* json(HeyoDatabase.DatabaseInfo, databaseInfo(record))
    }).pipe(refusals)
  ),
  HttpRouter.del(
    "/sqlite-databases/:id",
    Effect.gen(function*() {
      yield* (yield* Databases).remove(yield* databaseId)
      return HttpServerResponse.empty({ status: 204 })
    }).pipe(refusals)
  ),
  HttpRouter.post(
    "/sqlite-databases/:id/exec",
    Effect.gen(function*() {
      const id = yield* databaseId
      const body = yield* losslessBody(HeyoDatabase.ExecRequest)
      const out = yield* (yield* Databases).exec(id, body)
      return yield* losslessJson(
        HeyoDatabase.ExecResponse,
        new HeyoDatabase.ExecResponse({
          results: out.results.map((r) =>
            new HeyoDatabase.StatementResult({
              columns: r.columns,
              rows: r.rows,
              rowsAffected: r.rowsAffected,
              ...(r.lastInsertRowid === null ? {} : { lastInsertRowid: r.lastInsertRowid }),
              truncated: r.truncated
            })
          ),
          elapsedMs: out.elapsedMs
        })
      )
    }).pipe(refusals)
  ),
  HttpRouter.post(
    "/sqlite-databases/:id/connection",
    Effect.gen(function*() {
      const id = yield* databaseId
      const body = yield* Body.json(HeyoDatabase.ConnectionRequest)
      const request = yield* HttpServerRequest.HttpServerRequest
      const { secret, token } = yield* (yield* Databases).createToken(id, body)
      return yield* json(
        HeyoDatabase.ConnectionToken,
        new HeyoDatabase.ConnectionToken({
          id: token.id,
          databaseId: token.databaseId,
          url: libsqlUrl(request, id),
          authToken: secret,
          scopes: token.scopes,
          expiresAt: token.expiresAt
        }),
        201
      )
    }).pipe(refusals)
  ),
  HttpRouter.get(
    "/sqlite-databases/:id/connection-info",
    Effect.gen(function*() {
      const id = yield* databaseId
      const record = yield* (yield* Databases).get(id)
      const request = yield* HttpServerRequest.HttpServerRequest
      return yield* json(
        HeyoDatabase.ConnectionInfo,
        new HeyoDatabase.ConnectionInfo({ databaseId: record.id, url: libsqlUrl(request, record.id) })
      )
    }).pipe(refusals)
  ),
  HttpRouter.get(
    "/sqlite-databases/:id/connection-tokens",
    Effect.gen(function*() {
      const tokens = yield* (yield* Databases).listTokens(yield* databaseId)
      return yield* json(HeyoDatabase.TokenList, new HeyoDatabase.TokenList({ tokens: tokens.map(tokenInfo) }))
    }).pipe(refusals)
  ),
  HttpRouter.del(
    "/sqlite-databases/:id/connection-tokens/:token_id",
    Effect.gen(function*() {
      const params = yield* HttpRouter.params
      yield* (yield* Databases).revokeToken(params["id"] ?? "", params["token_id"] ?? "")
      return HttpServerResponse.empty({ status: 204 })
    }).pipe(refusals)
  ),
  HttpRouter.get(
    "/sqlite-databases/:id/file",
    Effect.gen(function*() {
      const { gzip, version } = yield* (yield* Databases).checkout(yield* databaseId)
      return HttpServerResponse.uint8Array(gzip, {
        contentType: "application/gzip",
        headers: { [HeyoDatabase.DATA_VERSION_HEADER]: String(version) }
      })
    }).pipe(refusals)
  ),
  HttpRouter.put(
    "/sqlite-databases/:id/file",
    Effect.gen(function*() {
      const id = yield* databaseId
      const query = yield* HttpServerRequest.ParsedSearchParams
      const expectedVersion = yield* integerParam(query, "expected_version")
      const forceRaw = query["force"]
      const force = forceRaw === "true" || forceRaw === "1"
      if (!force && expectedVersion === undefined) {
        return yield* new BadRequest({ message: "a check-in needs expected_version=<data version> or force=true" })
      }
      const request = yield* HttpServerRequest.HttpServerRequest
      const declared = Number(request.headers["content-length"])
      if (Number.isFinite(declared) && declared > MAX_CHECKIN_BYTES) {
        return yield* new PayloadTooLarge({ limit: MAX_CHECKIN_BYTES })
      }
      const body = yield* request.arrayBuffer.pipe(
        HttpIncomingMessage.withMaxBodySize(Option.some(MAX_CHECKIN_BYTES)),
        Effect.mapError((error) =>
          String(error.cause).includes("maxBytes exceeded")
            ? new PayloadTooLarge({ limit: MAX_CHECKIN_BYTES })
            : new BadRequest({ message: `could not read the request body: ${error.message}` })
        )
      )
      const out = yield* (yield* Databases).checkin(id, new Uint8Array(body), { expectedVersion, force })
      return yield* json(
        HeyoDatabase.CheckinResponse,
        new HeyoDatabase.CheckinResponse({ databaseId: id, dataVersion: out.version, s3Key: null, forced: out.forced })
      )
    }).pipe(refusals)
  )
)
