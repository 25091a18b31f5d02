/**
 * The database engine's own store (`<data dir>/databases/catalog.db`, SQLite in WAL mode):
 * which databases exist, their data versions, and their connection tokens, of which only a
 * SHA-256 hash is ever kept. Separate from heyod's sandbox state so the two never share a lock.
 */
import Database from "better-sqlite3"

export interface DatabaseRecord {
  readonly id: string
  readonly name: string
  readonly region: string
  readonly engine: string
  readonly sizeClass: string | null
  readonly envVars: Readonly<Record<string, string>> | null
  readonly status: string
  readonly createdAt: string
  readonly updatedAt: string
  readonly statusChangedAt: string
  readonly dataVersion: number
}

export interface TokenRecord {
  readonly id: string
  readonly databaseId: string
  readonly scopes: ReadonlyArray<string>
  readonly revoked: boolean
  readonly expiresAt: string
  readonly createdAt: string
  readonly lastUsedAt: string | null
}

const schema = `
CREATE TABLE IF NOT EXISTS databases (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  region TEXT NOT NULL,
  engine TEXT NOT NULL,
  size_class TEXT,
  env_vars TEXT,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  status_changed_at TEXT NOT NULL,
  data_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  database_id TEXT NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
  secret_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  expires_at TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT
);
CREATE INDEX IF NOT EXISTS tokens_database ON tokens(database_id);
`

interface DatabaseRow {
  id: string
  name: string
  region: string
  engine: string
  size_class: string | null
  env_vars: string | null
  status: string
  created_at: string
  updated_at: string
  status_changed_at: string
  data_version: number
}

interface TokenRow {
  id: string
  database_id: string
  scopes: string
  revoked: number
  expires_at: string
  created_at: string
  last_used_at: string | null
}

const toDatabase = (row: DatabaseRow): DatabaseRecord => ({
  id: row.id,
  name: row.name,
  region: row.region,
  engine: row.engine,
  sizeClass: row.size_class,
  envVars: row.env_vars === null ? null : JSON.parse(row.env_vars),
  status: row.status,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  statusChangedAt: row.status_changed_at,
  dataVersion: row.data_version
})

const toToken = (row: TokenRow): TokenRecord => ({
  id: row.id,
  databaseId: row.database_id,
  scopes: JSON.parse(row.scopes),
  revoked: row.revoked !== 0,
  expiresAt: row.expires_at,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at
})

/** Synchronous on purpose: every call is one small indexed statement on a local file. */
export class Catalog {
  private readonly db: Database.Database
  private readonly statements

  constructor(file: string) {
    this.db = new Database(file)
    this.db.pragma("journal_mode = WAL")
    this.db.pragma("synchronous = NORMAL")
    this.db.pragma("foreign_keys = ON")
    this.db.exec(schema)
    const db = this.db
    this.statements = {
      insertDatabase: db.prepare(
        `INSERT INTO databases (id, name, region, engine, size_class, env_vars, status, created_at, updated_at, status_changed_at, data_version)
         VALUES (@id, @name, @region, @engine, @sizeClass, @envVars, @status, @createdAt, @updatedAt, @statusChangedAt, @dataVersion)`
      ),
      byId: db.prepare<[string], DatabaseRow>("SELECT * FROM databases WHERE id = ?"),
      byName: db.prepare<[string], DatabaseRow>("SELECT * FROM databases WHERE name = ?"),
      all: db.prepare<[], DatabaseRow>("SELECT * FROM databases ORDER BY created_at, id"),
      remove: db.prepare("DELETE FROM databases WHERE id = ?"),
      setVersion: db.prepare("UPDATE databases SET data_version = ?, updated_at = ? WHERE id = ?"),
      insertToken: db.prepare(
        `INSERT INTO tokens (id, database_id, secret_hash, scopes, expires_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`
      ),
      tokenByHash: db.prepare<[string], TokenRow>("SELECT * FROM tokens WHERE secret_hash = ?"),
      tokensOf: db.prepare<[string], TokenRow>("SELECT * FROM tokens WHERE database_id = ? ORDER BY created_at, id"),
      revoke: db.prepare("UPDATE tokens SET revoked = 1 WHERE id = ? AND database_id = ?"),
      touch: db.prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?")
    }
  }

  insertDatabase(record: DatabaseRecord) {
    this.statements.insertDatabase.run({ ...record, envVars: record.envVars === null ? null : JSON.stringify(record.envVars) })
  }
  getDatabase(id: string): DatabaseRecord | undefined {
    const row = this.statements.byId.get(id)
    return row === undefined ? undefined : toDatabase(row)
  }
  getDatabaseByName(name: string): DatabaseRecord | undefined {
    const row = this.statements.byName.get(name)
    return row === undefined ? undefined : toDatabase(row)
  }
  listDatabases(): ReadonlyArray<DatabaseRecord> {
    return this.statements.all.all().map(toDatabase)
  }
  deleteDatabase(id: string) {
    this.statements.remove.run(id)
  }
  setDataVersion(id: string, version: number, at: string) {
    this.statements.setVersion.run(version, at, id)
  }
  insertToken(token: TokenRecord, secretHash: string) {
    this.statements.insertToken.run(
      token.id,
      token.databaseId,
      secretHash,
      JSON.stringify(token.scopes),
      token.expiresAt,
      token.createdAt
    )
  }
  tokenByHash(secretHash: string): TokenRecord | undefined {
    const row = this.statements.tokenByHash.get(secretHash)
    return row === undefined ? undefined : toToken(row)
  }
  tokensOf(databaseId: string): ReadonlyArray<TokenRecord> {
    return this.statements.tokensOf.all(databaseId).map(toToken)
  }
  /** False when no such token belongs to the database. */
  revokeToken(databaseId: string, tokenId: string): boolean {
    return this.statements.revoke.run(tokenId, databaseId).changes > 0
  }
  touchToken(tokenId: string, at: string) {
    this.statements.touch.run(at, tokenId)
  }
  close() {
    this.db.close()
  }
}
