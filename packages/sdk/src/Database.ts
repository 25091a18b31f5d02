/**
 * Cloud SQLite databases (reference/heyo-api.md §2.6): create, list, inspect, delete; run SQL
 * (`exec`, `batch`, optionally in one transaction); hand out connection tokens for libsql
 * clients; check the whole file out and back in.
 *
 * Values are typed `SqlValue`s both ways: an integer is a `bigint` (every one of its 64 bits
 * kept), a float a `number` (sent with its decimal point, so `1.0` stays REAL), and text,
 * booleans and null are themselves; booleans read back as `1n` / `0n`, since SQLite has none.
 * The full read-back table is in the protocol's SqlValue module and the README.
 *
 * To test code that uses databases without a server, stub the service with `Layer.mock`:
 *
 * ```ts
 * Layer.mock(Database.Database, {
 *   exec: () => Effect.succeed(new Database.StatementResult({ columns: ["n"], rows: [[1n]], rowsAffected: 0n, truncated: false }))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as HttpBody from "@effect/platform/HttpBody"
import { HeyoDatabase, SqlJson } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { HeyoClient, path } from "./HeyoClient.js"
import * as HeyoError from "./HeyoError.js"
import { call, gunzip, gzip, losslessJson } from "./internal/databaseHttp.js"
import { encode } from "./internal/services.js"

/** `null | boolean | bigint (INTEGER) | number (REAL) | string`. @since 0.1.0 */
export type SqlValue = SqlJson.SqlValue
/** @since 0.1.0 */
export const DatabaseInfo = HeyoDatabase.DatabaseInfo
/** @since 0.1.0 */
export type DatabaseInfo = HeyoDatabase.DatabaseInfo
/** @since 0.1.0 */
export const StatementResult = HeyoDatabase.StatementResult
/** @since 0.1.0 */
export type StatementResult = HeyoDatabase.StatementResult
/** @since 0.1.0 */
export const BatchResult = HeyoDatabase.ExecResponse
/** @since 0.1.0 */
export type BatchResult = HeyoDatabase.ExecResponse
/** @since 0.1.0 */
export const TokenInfo = HeyoDatabase.TokenInfo
/** @since 0.1.0 */
export type TokenInfo = HeyoDatabase.TokenInfo
/** @since 0.1.0 */
export type SqlTransactionMode = HeyoDatabase.SqlTransactionMode
/** @since 0.1.0 */
export type ConnectionScope = HeyoDatabase.ConnectionScope

/** @since 0.1.0 */
export interface CreateOptions {
  readonly name: string
  /** The cloud needs one (see `regions`); heyod uses its own when it is left out. */
  readonly region?: string | undefined
  readonly sizeClass?: string | undefined
  readonly envVars?: Readonly<Record<string, string>> | undefined
  readonly engine?: HeyoDatabase.DatabaseEngine | undefined
}

/** @since 0.1.0 */
export interface Statement {
  readonly sql: string
  /** Positional arguments for `?` placeholders. */
  readonly args?: ReadonlyArray<SqlValue> | undefined
}

/** @since 0.1.0 */
export interface ExecOptions {
  /** Rows returned per statement (default 1000, at most 10 000); past it `truncated` is true. */
  readonly maxRows?: number | undefined
  /** Client-side deadline for this call (default: the client's timeout). */
  readonly timeout?: Duration.DurationInput | undefined
}

/** @since 0.1.0 */
export interface BatchOptions extends ExecOptions {
  /** Run all statements in one transaction of this mode: all or nothing. Omitted: each commits alone. */
  readonly transaction?: SqlTransactionMode | undefined
}

/** @since 0.1.0 */
export interface ConnectOptions {
  /** Default `read` and `write`. A `read`-only token is refused every write. */
  readonly scopes?: ReadonlyArray<ConnectionScope> | undefined
  /** Default 1 hour, at most 24 hours. */
  readonly ttl?: Duration.DurationInput | undefined
}

/** What a libsql client needs: `createClient({ url, authToken: Redacted.value(authToken) })`. @since 0.1.0 */
export interface Connection {
  readonly id: string
  readonly databaseId: string
  readonly url: string
  readonly authToken: Redacted.Redacted<string>
  readonly scopes: ReadonlyArray<string>
  readonly expiresAt: Date
}

/** The whole database as an SQLite file, and the data version it is at. @since 0.1.0 */
export interface Checkout {
  readonly databaseId: string
  readonly version: number
  /** The SQLite file (already gunzipped). */
  readonly bytes: Uint8Array
}

/**
 * `expectedVersion`: replace the file only if the database is still at that version (else
 * `CheckinConflict`). `force: true`: replace it whatever its version.
 *
 * @since 0.1.0
 */
export type CheckinOptions =
  | { readonly expectedVersion: number; readonly force?: false | undefined }
  | { readonly force: true; readonly expectedVersion?: number | undefined }

/** @since 0.1.0 */
export interface Checkin {
  readonly databaseId: string
  readonly version: number
  readonly forced: boolean
}

/** @since 0.1.0 */
export interface Service {
  readonly create: (options: CreateOptions) => Effect.Effect<DatabaseInfo, HeyoError.HttpError>
  readonly list: Effect.Effect<ReadonlyArray<DatabaseInfo>, HeyoError.HttpError>
  readonly get: (id: string) => Effect.Effect<DatabaseInfo, HeyoError.HttpError>
  readonly regions: Effect.Effect<ReadonlyArray<string>, HeyoError.HttpError>
  readonly delete: (id: string) => Effect.Effect<void, HeyoError.HttpError>
  /** One statement: `batch` of one, its result. */
  readonly exec: (
    id: string,
    sql: string,
    args?: ReadonlyArray<SqlValue> | undefined,
    options?: ExecOptions | undefined
  ) => Effect.Effect<StatementResult, HeyoError.HttpError>
  /** Statements in order; with `transaction`, all of them or none (a failure rolls back every one). */
  readonly batch: (
    id: string,
    statements: ReadonlyArray<Statement>,
    options?: BatchOptions | undefined
  ) => Effect.Effect<BatchResult, HeyoError.HttpError>
  /** A new connection token for libsql clients (its secret appears only here). */
  readonly connect: (id: string, options?: ConnectOptions | undefined) => Effect.Effect<Connection, HeyoError.HttpError>
  /** The libsql URL of a database (no credential needed). */
  readonly connectionInfo: (id: string) => Effect.Effect<{ readonly databaseId: string; readonly url: string }, HeyoError.HttpError>
  readonly listConnections: (id: string) => Effect.Effect<ReadonlyArray<TokenInfo>, HeyoError.HttpError>
  readonly revokeConnection: (id: string, tokenId: string) => Effect.Effect<void, HeyoError.HttpError>
  readonly checkout: (id: string, options?: { readonly timeout?: Duration.DurationInput | undefined }) => Effect.Effect<Checkout, HeyoError.HttpError>
  /** Replaces the whole database with `bytes` (an SQLite file). Needs `expectedVersion` or `force`. */
  readonly checkin: (
    id: string,
    bytes: Uint8Array,
    options: CheckinOptions
  ) => Effect.Effect<Checkin, HeyoError.HttpError | HeyoError.CheckinConflict>
}

/** @since 0.1.0 */
export class Database extends Context.Tag("@heyo-effect/sdk/Database")<Database, Service>() {}

const conflictFrom = (expected: number | undefined) =>
(error: HeyoError.HttpError): Effect.Effect<never, HeyoError.HttpError | HeyoError.CheckinConflict> => {
  if (error._tag !== "Api" || error.status !== 409) return Effect.fail(error)
  const body = error.body as { readonly current_version?: unknown } | undefined
  const current = typeof body?.current_version === "number" ? body.current_version : -1
  return Effect.fail(new HeyoError.CheckinConflict({ expected: Option.fromNullable(expected), current }))
}

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.map(HeyoClient, (client) => {
  const create = Effect.fn("Database.create")(function*(options: CreateOptions) {
    const body = yield* encode(HeyoDatabase.DatabaseCreateBody, new HeyoDatabase.DatabaseCreateBody(options, true))
    return yield* client.json(HeyoDatabase.DatabaseInfo, { method: "POST", path: "/sqlite-databases", body })
  })
  const list = client.json(HeyoDatabase.DatabaseList, { method: "GET", path: "/sqlite-databases" }).pipe(
    Effect.map((r) => r.databases),
    Effect.withSpan("Database.list", { captureStackTrace: false })
  )
  const get = Effect.fn("Database.get")(function*(id: string) {
    yield* Effect.annotateCurrentSpan("database.id", id)
    return yield* client.json(HeyoDatabase.DatabaseInfo, { method: "GET", path: path`/sqlite-databases/${id}` })
  })
  const regions = client.json(HeyoDatabase.RegionList, { method: "GET", path: "/sqlite-regions" }).pipe(
    Effect.map((r) => r.regions),
    Effect.withSpan("Database.regions", { captureStackTrace: false })
  )
  const del = Effect.fn("Database.delete")(function*(id: string) {
    yield* Effect.annotateCurrentSpan("database.id", id)
    return yield* client.execute({ method: "DELETE", path: path`/sqlite-databases/${id}` })
  })
  const batch = Effect.fn("Database.batch")(function*(id: string, statements: ReadonlyArray<Statement>, options?: BatchOptions) {
    yield* Effect.annotateCurrentSpan("database.id", id)
    const request = yield* Effect.try({
      try: () =>
        new HeyoDatabase.ExecRequest({
          statements: statements.map((s) => new HeyoDatabase.Statement({ sql: s.sql, args: s.args ?? [] })),
          transaction: options?.transaction,
          maxRows: options?.maxRows
        }),
      catch: (e) => new HeyoError.InvalidArgument({ message: `invalid argument: ${(e as Error).message}` })
    })
    return yield* losslessJson(
      client,
      path`/sqlite-databases/${id}/exec`,
      { schema: HeyoDatabase.ExecRequest, value: request },
      HeyoDatabase.ExecResponse,
      options?.timeout
    )
  })
  const exec = Effect.fn("Database.exec")(
    function*(id: string, sql: string, args?: ReadonlyArray<SqlValue>, options?: ExecOptions) {
      const response = yield* batch(id, [{ sql, args }], options)
      const first = response.results[0]
      if (first === undefined) {
        return yield* new HeyoError.Api({ status: 200, message: `the server answered no result (calling POST /sqlite-databases/${id}/exec)` })
      }
      return first
    }
  )
  const connect = Effect.fn("Database.connect")(function*(id: string, options?: ConnectOptions) {
    yield* Effect.annotateCurrentSpan("database.id", id)
    const ttlSeconds = options?.ttl === undefined ? undefined : Math.round(Duration.toSeconds(Duration.decode(options.ttl)))
    const body = yield* encode(
      HeyoDatabase.ConnectionRequest,
      new HeyoDatabase.ConnectionRequest({ ttlSeconds, scopes: options?.scopes }, true)
    )
    const token = yield* client.json(HeyoDatabase.ConnectionToken, { method: "POST", path: path`/sqlite-databases/${id}/connection`, body })
    return {
      id: token.id,
      databaseId: token.databaseId,
      url: token.url,
      authToken: Redacted.make(token.authToken),
      scopes: token.scopes,
      expiresAt: new Date(token.expiresAt)
    } satisfies Connection
  })
  const connectionInfo = Effect.fn("Database.connectionInfo")(function*(id: string) {
    return yield* client.json(HeyoDatabase.ConnectionInfo, { method: "GET", path: path`/sqlite-databases/${id}/connection-info` })
  })
  const listConnections = Effect.fn("Database.listConnections")(function*(id: string) {
    const list = yield* client.json(HeyoDatabase.TokenList, { method: "GET", path: path`/sqlite-databases/${id}/connection-tokens` })
    return list.tokens
  })
  const revokeConnection = Effect.fn("Database.revokeConnection")(function*(id: string, tokenId: string) {
    return yield* client.execute({ method: "DELETE", path: path`/sqlite-databases/${id}/connection-tokens/${tokenId}` })
  })
  const checkout = Effect.fn("Database.checkout")(function*(id: string, options?: { readonly timeout?: Duration.DurationInput | undefined }) {
    yield* Effect.annotateCurrentSpan("database.id", id)
    const { version, zipped } = yield* call(
      client,
      { method: "GET", path: path`/sqlite-databases/${id}/file`, timeout: options?.timeout },
      (response, name) => {
        const header = response.headers[HeyoDatabase.DATA_VERSION_HEADER]
        const version = header === undefined || !/^-?\d+$/.test(header.trim()) ? undefined : Number(header)
        if (version === undefined) {
          return Effect.fail(new HeyoError.Api({
            status: response.status,
            message: `missing or non-numeric X-Heyo-Data-Version header ${JSON.stringify(header ?? null)} (calling ${name})`
          }))
        }
        return response.arrayBuffer.pipe(
          Effect.mapError((e) => new HeyoError.Connection({ message: `network error (calling ${name}): ${e.message}`, cause: e })),
          Effect.map((b) => ({ version, zipped: new Uint8Array(b) }))
        )
      }
    )
    const bytes = yield* gunzip(zipped, `GET /sqlite-databases/${id}/file`)
    return { databaseId: id, version, bytes } satisfies Checkout
  })
  const checkin = Effect.fn("Database.checkin")(function*(id: string, bytes: Uint8Array, options: CheckinOptions) {
    yield* Effect.annotateCurrentSpan("database.id", id)
    const force = (options as { readonly force?: boolean }).force === true
    const expectedVersion = (options as { readonly expectedVersion?: number }).expectedVersion
    if (!force && expectedVersion === undefined) {
      return yield* new HeyoError.InvalidArgument({
        message: "checkin needs expectedVersion (from checkout) or force: true, so it never overwrites a newer version by accident"
      })
    }
    const zipped = yield* gzip(bytes)
    const response = yield* call(
      client,
      {
        method: "PUT",
        path: path`/sqlite-databases/${id}/file`,
        query: { expected_version: expectedVersion === undefined ? undefined : String(expectedVersion), force: force ? "true" : undefined },
        body: HttpBody.uint8Array(zipped, "application/gzip")
      },
      (r, name): Effect.Effect<HeyoDatabase.CheckinResponse, HeyoError.HttpError> =>
        r.json.pipe(
          Effect.flatMap(Schema.decodeUnknown(HeyoDatabase.CheckinResponse)),
          Effect.mapError((e) => new HeyoError.Api({ status: r.status, message: `unexpected response body (calling ${name}): ${e.message}` }))
        )
    ).pipe(Effect.catchAll(conflictFrom(expectedVersion)))
    return { databaseId: response.databaseId, version: response.dataVersion, forced: response.forced } satisfies Checkin
  })
  return Database.of({
    create,
    list,
    get,
    regions,
    delete: del,
    exec,
    batch,
    connect,
    connectionInfo,
    listConnections,
    revokeConnection,
    checkout,
    checkin
  })
})

/** @since 0.1.0 */
export const layer: Layer.Layer<Database, never, HeyoClient> = Layer.effect(Database, make)

/** @since 0.1.0 */
export const create = (options: CreateOptions) => Effect.flatMap(Database, (d) => d.create(options))
/** @since 0.1.0 */
export const list = Effect.flatMap(Database, (d) => d.list)
/** @since 0.1.0 */
export const get = (id: string) => Effect.flatMap(Database, (d) => d.get(id))
/** @since 0.1.0 */
export const regions = Effect.flatMap(Database, (d) => d.regions)
/** @since 0.1.0 */
export const remove = (id: string) => Effect.flatMap(Database, (d) => d.delete(id))
/** @since 0.1.0 */
export const exec = (id: string, sql: string, args?: ReadonlyArray<SqlValue>, options?: ExecOptions) =>
  Effect.flatMap(Database, (d) => d.exec(id, sql, args, options))
/** @since 0.1.0 */
export const batch = (id: string, statements: ReadonlyArray<Statement>, options?: BatchOptions) =>
  Effect.flatMap(Database, (d) => d.batch(id, statements, options))
/** @since 0.1.0 */
export const connect = (id: string, options?: ConnectOptions) => Effect.flatMap(Database, (d) => d.connect(id, options))
/** @since 0.1.0 */
export const connectionInfo = (id: string) => Effect.flatMap(Database, (d) => d.connectionInfo(id))
/** @since 0.1.0 */
export const listConnections = (id: string) => Effect.flatMap(Database, (d) => d.listConnections(id))
/** @since 0.1.0 */
export const revokeConnection = (id: string, tokenId: string) => Effect.flatMap(Database, (d) => d.revokeConnection(id, tokenId))
/** @since 0.1.0 */
export const checkout = (id: string) => Effect.flatMap(Database, (d) => d.checkout(id))
/** @since 0.1.0 */
export const checkin = (id: string, bytes: Uint8Array, options: CheckinOptions) =>
  Effect.flatMap(Database, (d) => d.checkin(id, bytes, options))
