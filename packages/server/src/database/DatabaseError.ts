/**
 * What the database engine can refuse. The Heyo database router and the libsql endpoints turn
 * each into their own status code and body (DatabaseRouter.ts, LibsqlRouter.ts).
 */
import * as Schema from "effect/Schema"

export class DatabaseNotFound extends Schema.TaggedError<DatabaseNotFound>()("DatabaseNotFound", {
  databaseId: Schema.String
}) {
  override get message() {
    return `database ${this.databaseId} not found`
  }
}

export class TokenNotFound extends Schema.TaggedError<TokenNotFound>()("TokenNotFound", {
  tokenId: Schema.String
}) {
  override get message() {
    return `connection token ${this.tokenId} not found`
  }
}

/** Bad input: a field, a file that is not SQLite, an unknown region. */
export class DatabaseInvalid extends Schema.TaggedError<DatabaseInvalid>()("DatabaseInvalid", {
  message: Schema.String
}) {}

/** A name already taken. */
export class DatabaseConflict extends Schema.TaggedError<DatabaseConflict>()("DatabaseConflict", {
  message: Schema.String
}) {}

/** SQLite refused a statement (syntax, constraint, a write through a read token...). */
export class SqlFailed extends Schema.TaggedError<SqlFailed>()("SqlFailed", {
  message: Schema.String,
  code: Schema.String,
  /** Index of the failing statement in the batch. */
  statement: Schema.optional(Schema.Number)
}) {}

/** The statement timeout ran out: the query was stopped and nothing it did was kept. */
export class SqlTimedOut extends Schema.TaggedError<SqlTimedOut>()("SqlTimedOut", {
  millis: Schema.Number
}) {
  override get message() {
    return `the query ran past the statement timeout (${this.millis} ms) and was stopped; nothing it did was kept`
  }
}

/** The SQL worker died under a request (not a timeout). */
export class SqlWorkerFailed extends Schema.TaggedError<SqlWorkerFailed>()("SqlWorkerFailed", {
  message: Schema.String
}) {}

/** A check-in's `expected_version` is stale. */
export class VersionConflict extends Schema.TaggedError<VersionConflict>()("VersionConflict", {
  expected: Schema.Number,
  current: Schema.Number
}) {
  override get message() {
    return `expected data version ${this.expected}, the database is at ${this.current}`
  }
}

/** A connection token that is unknown, revoked, expired or for another database. */
export class TokenRefused extends Schema.TaggedError<TokenRefused>()("TokenRefused", {
  message: Schema.String
}) {}

/** A Hrana baton that is unknown, already used, or whose stream was closed or timed out. */
export class StreamExpired extends Schema.TaggedError<StreamExpired>()("StreamExpired", {
  message: Schema.String
}) {}
