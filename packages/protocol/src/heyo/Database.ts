/**
 * Cloud SQLite databases of the Heyo dialect (reference/heyo-api.md §2.6, §3): bodies of the
 * `/sqlite-databases` routes. Models are camelCase, the wire snake_case. Bodies that carry
 * SqlValues (`exec`) are read and written with `SqlJson` (./SqlValue.ts), never plain JSON.
 */
import * as Schema from "effect/Schema"
import { Int64, SqlValue } from "./SqlValue.js"

/** `db-` followed by 8 lowercase alphanumerics on heyod; any string from other servers. */
export const DatabaseId = Schema.String.pipe(Schema.brand("DatabaseId"))
export type DatabaseId = typeof DatabaseId.Type

export const DatabaseIdPattern = /^db-[0-9a-z]{8}$/

export const ConnectionScope = Schema.Literal("read", "write")
export type ConnectionScope = typeof ConnectionScope.Type

/** Omitted: each statement commits on its own. */
export const SqlTransactionMode = Schema.Literal("deferred", "immediate", "exclusive")
export type SqlTransactionMode = typeof SqlTransactionMode.Type

export const DatabaseEngine = Schema.Literal("sqlite", "duckdb")
export type DatabaseEngine = typeof DatabaseEngine.Type

/** Rows per result when `max_rows` is omitted, and the most a caller may ask for. */
export const DEFAULT_MAX_ROWS = 1000
export const MAX_ROWS_CAP = 10_000
/** Connection token lifetimes, in seconds. */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600
export const MAX_TOKEN_TTL_SECONDS = 86_400
/** The prefix of every connection token's secret. */
export const TOKEN_PREFIX = "heyo_db_"
/** The response header of `GET /sqlite-databases/:id/file`. */
export const DATA_VERSION_HEADER = "x-heyo-data-version"

const nullable = <S extends Schema.Schema.Any>(schema: S, key: string) =>
  Schema.optionalWith(Schema.NullOr(schema), { default: () => null }).pipe(Schema.fromKey(key))

export class DatabaseCreateBody extends Schema.Class<DatabaseCreateBody>("DatabaseCreateBody")({
  name: Schema.String.pipe(Schema.minLength(1, { message: () => "name must not be empty" })),
  /** Required by the cloud; heyod uses its one region when it is left out. */
  region: Schema.optional(Schema.String),
  sizeClass: Schema.optional(Schema.String).pipe(Schema.fromKey("size_class")),
  envVars: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })).pipe(Schema.fromKey("env_vars")),
  engine: Schema.optional(DatabaseEngine)
}) {}

export class DatabaseInfo extends Schema.Class<DatabaseInfo>("DatabaseInfo")({
  id: DatabaseId,
  name: Schema.String,
  userId: Schema.optionalWith(Schema.String, { default: () => "" }).pipe(Schema.fromKey("user_id")),
  accountId: nullable(Schema.String, "account_id"),
  backendServerId: nullable(Schema.String, "backend_server_id"),
  backendDatabaseId: nullable(Schema.String, "backend_database_id"),
  region: nullable(Schema.String, "region"),
  /** `creating`, `running`, `failed`, `deleted`, or a newer server's value. */
  status: Schema.String,
  engine: Schema.optionalWith(Schema.String, { default: () => "sqlite" }),
  sizeClass: nullable(Schema.String, "size_class"),
  s3Key: nullable(Schema.String, "s3_key"),
  walS3Prefix: nullable(Schema.String, "wal_s3_prefix"),
  errorMessage: nullable(Schema.String, "error_message"),
  createdAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("created_at")),
  updatedAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("updated_at")),
  statusChangedAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("status_changed_at"))
}) {}

export class DatabaseList extends Schema.Class<DatabaseList>("DatabaseList")({
  databases: Schema.Array(DatabaseInfo)
}) {}

export class RegionList extends Schema.Class<RegionList>("RegionList")({
  regions: Schema.Array(Schema.String)
}) {}

export class Statement extends Schema.Class<Statement>("Statement")({
  sql: Schema.String,
  args: Schema.optionalWith(Schema.Array(SqlValue), { default: () => [] })
}) {}

const MaxRows = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1, { message: () => "max_rows must be at least 1" }))

export class ExecRequest extends Schema.Class<ExecRequest>("ExecRequest")({
  statements: Schema.Array(Statement).pipe(Schema.minItems(1, { message: () => "statements must not be empty" })),
  transaction: Schema.optional(SqlTransactionMode),
  /** Default 1000; larger values are capped at 10 000. */
  maxRows: Schema.optional(MaxRows).pipe(Schema.fromKey("max_rows"))
}) {}

export class StatementResult extends Schema.Class<StatementResult>("StatementResult")({
  columns: Schema.Array(Schema.String),
  rows: Schema.Array(Schema.Array(SqlValue)),
  rowsAffected: Schema.propertySignature(Int64).pipe(Schema.fromKey("rows_affected")),
  /** Present after a statement that wrote; absent after a read. */
  lastInsertRowid: Schema.optional(Int64).pipe(Schema.fromKey("last_insert_rowid")),
  /** More rows matched than `max_rows`; only the first `max_rows` are in `rows`. */
  truncated: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

export class ExecResponse extends Schema.Class<ExecResponse>("ExecResponse")({
  results: Schema.Array(StatementResult),
  elapsedMs: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("elapsed_ms"))
}) {}

export class ConnectionRequest extends Schema.Class<ConnectionRequest>("ConnectionRequest")({
  ttlSeconds: Schema.optional(
    Schema.Int.pipe(Schema.between(1, MAX_TOKEN_TTL_SECONDS, {
      message: () => `ttl_seconds must be between 1 and ${MAX_TOKEN_TTL_SECONDS} (24 h)`
    }))
  ).pipe(Schema.fromKey("ttl_seconds")),
  scopes: Schema.optional(Schema.Array(ConnectionScope).pipe(Schema.minItems(1, { message: () => "scopes must not be empty" })))
}) {}

/** The answer of `POST /sqlite-databases/:id/connection`: the only place the secret appears. */
export class ConnectionToken extends Schema.Class<ConnectionToken>("ConnectionToken")({
  id: Schema.String,
  databaseId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("database_id")),
  /** The libsql (Hrana over HTTP) base URL; it ends with `/`. */
  url: Schema.String,
  authToken: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("auth_token")),
  scopes: Schema.Array(Schema.String),
  expiresAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("expires_at"))
}) {}

export class ConnectionInfo extends Schema.Class<ConnectionInfo>("ConnectionInfo")({
  databaseId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("database_id")),
  url: Schema.String
}) {}

export class TokenInfo extends Schema.Class<TokenInfo>("TokenInfo")({
  id: Schema.String,
  databaseId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("database_id")),
  scopes: Schema.Array(Schema.String),
  revoked: Schema.Boolean,
  expiresAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("expires_at")),
  createdAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("created_at")),
  lastUsedAt: nullable(Schema.String, "last_used_at")
}) {}

export class TokenList extends Schema.Class<TokenList>("TokenList")({
  tokens: Schema.Array(TokenInfo)
}) {}

/** `PUT /sqlite-databases/:id/file` success. */
export class CheckinResponse extends Schema.Class<CheckinResponse>("CheckinResponse")({
  databaseId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("database_id")),
  dataVersion: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("data_version")),
  s3Key: nullable(Schema.String, "s3_key"),
  forced: Schema.Boolean
}) {}

/** `409` body of a check-in whose `expected_version` is stale. */
export class CheckinConflictBody extends Schema.Class<CheckinConflictBody>("CheckinConflictBody")({
  currentVersion: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("current_version"))
}) {}
