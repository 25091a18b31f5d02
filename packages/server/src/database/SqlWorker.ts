/**
 * The SQL worker: a child process that owns one database file and runs its statements with
 * better-sqlite3 (the driver of heyod's own state store). It is a process rather than a worker
 * thread because better-sqlite3 cannot interrupt a running statement: on a statement timeout
 * heyod kills this process, which SQLite survives (the open transaction rolls back), and starts
 * a new one. heyod sends one request at a time, so no two connections here ever contend.
 *
 * Connections: `main` runs Heyo `exec` batches, one per Hrana stream runs that stream's
 * requests (holding its interactive transaction between pipelines), and `observer` only reads
 * `PRAGMA data_version`, which changes whenever any other connection commits: the signal that
 * heyod's data version must move.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import type { ExecStatement, Request, Response, SqlValue, StatementOutcome } from "./WorkerProtocol.js"

const file = process.argv[2]
if (file === undefined || process.send === undefined) {
  console.error("usage: SqlWorker <database file> (as an IPC child of heyod)")
  process.exit(2)
}

type Connection = Database.Database

class SqlFailure extends Error {
  constructor(message: string, readonly code: string, readonly statement?: number) {
    super(message)
  }
}

const open = (): Connection => {
  const db = new Database(file, { timeout: 1000 })
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.defaultSafeIntegers(true)
  return db
}

const caches = new WeakMap<Connection, Map<string, Database.Statement>>()
const prepare = (db: Connection, sql: string): Database.Statement => {
  let cache = caches.get(db)
  if (cache === undefined) {
    cache = new Map()
    caches.set(db, cache)
  }
  let stmt = cache.get(sql)
  if (stmt === undefined) {
    stmt = db.prepare(sql)
    if (cache.size >= 256) cache.clear()
    cache.set(sql, stmt)
  }
  return stmt
}

let main: Connection | undefined
let observer: Connection | undefined
const mainDb = () => (main ??= open())
const observerDb = () => (observer ??= open())
let lastDataVersion = observerDb().pragma("data_version", { simple: true }) as bigint

const changed = (): boolean => {
  const version = observerDb().pragma("data_version", { simple: true }) as bigint
  if (version === lastDataVersion) return false
  lastDataVersion = version
  return true
}

interface Stream {
  db: Connection | undefined
  readonly readOnly: boolean
  readonly sqls: Map<number, string>
}
const streams = new Map<number, Stream>()
const streamDb = (stream: Stream): Connection => {
  if (stream.db === undefined) {
    stream.db = open()
    if (stream.readOnly) stream.db.pragma("query_only = ON")
  }
  return stream.db
}

const closeConnection = (db: Connection | undefined) => {
  if (db === undefined || !db.open) return
  if (db.inTransaction) db.exec("ROLLBACK")
  db.close()
}

const toBind = (value: unknown): unknown => (typeof value === "boolean" ? (value ? 1n : 0n) : value)

/** A value read from SQLite in the Heyo model: blobs have no JSON form and travel as base64 text. */
const fromSqlite = (value: unknown): SqlValue =>
  value instanceof Uint8Array ? Buffer.from(value).toString("base64") : (value as SqlValue)

const failure = (error: unknown, statement?: number): SqlFailure => {
  if (error instanceof SqlFailure) return error
  const e = error as { message?: string; code?: string }
  const code = typeof e.code === "string" ? e.code : error instanceof RangeError || error instanceof TypeError ? "SQL_INPUT_ERROR" : "SQLITE_ERROR"
  return new SqlFailure(e.message ?? String(error), code, statement)
}

const runStatement = (db: Connection, statement: ExecStatement, maxRows: number): StatementOutcome => {
  const stmt = prepare(db, statement.sql)
  const args = statement.args.map(toBind)
  if (stmt.reader) {
    stmt.raw(true)
    const columns = stmt.columns().map((c) => c.name)
    const rows: Array<ReadonlyArray<SqlValue>> = []
    let truncated = false
    if (stmt.readonly) {
      // A read stops at max_rows + 1: the rest is never computed.
      for (const row of stmt.iterate(...args) as Iterable<Array<unknown>>) {
        if (rows.length >= maxRows) {
          truncated = true
          break
        }
        rows.push(row.map(fromSqlite))
      }
      return { columns, rows, rowsAffected: 0n, lastInsertRowid: null, truncated }
    }
    // A write with RETURNING must run to its end whatever is shown.
    const all = stmt.all(...args) as Array<Array<unknown>>
    const info = prepare(db, "SELECT changes(), last_insert_rowid()").raw(true).get() as [bigint, bigint]
    return {
      columns,
      rows: all.slice(0, maxRows).map((row) => row.map(fromSqlite)),
      rowsAffected: info[0],
      lastInsertRowid: info[1],
      truncated: all.length > maxRows
    }
  }
  const info = stmt.run(...args)
  return {
    columns: [],
    rows: [],
    rowsAffected: BigInt(info.changes),
    lastInsertRowid: stmt.readonly ? null : BigInt(info.lastInsertRowid),
    truncated: false
  }
}

const exec = (request: Extract<Request, { op: "exec" }>) => {
  const db = mainDb()
  const results: Array<StatementOutcome> = []
  if (request.transaction !== undefined) db.exec(`BEGIN ${request.transaction.toUpperCase()}`)
  try {
    request.statements.forEach((statement, i) => {
      try {
        results.push(runStatement(db, statement, request.maxRows))
      } catch (error) {
        throw failure(error, i)
      }
    })
    if (request.transaction !== undefined) db.exec("COMMIT")
  } catch (error) {
    if (db.inTransaction) db.exec("ROLLBACK")
    throw error
  }
  if (request.transaction === undefined && db.inTransaction) {
    // A batch that BEGINs without committing would hold the write lock past its own request.
    db.exec("ROLLBACK")
    throw new SqlFailure(
      "the batch left a transaction open and was rolled back: use `transaction` instead of BEGIN",
      "SQL_INPUT_ERROR"
    )
  }
  return { results }
}

// ---- Hrana (reference: the Hrana 3 specification, JSON encoding) ----

type HranaValue =
  | { type: "null" }
  | { type: "integer"; value: string }
  | { type: "float"; value: number }
  | { type: "text"; value: string }
  | { type: "blob"; base64: string }

const toHrana = (value: unknown): HranaValue => {
  if (value === null || value === undefined) return { type: "null" }
  if (typeof value === "bigint") return { type: "integer", value: value.toString() }
  if (typeof value === "number") return { type: "float", value }
  if (typeof value === "string") return { type: "text", value }
  if (value instanceof Uint8Array) return { type: "blob", base64: Buffer.from(value).toString("base64") }
  return { type: "text", value: String(value) }
}

const fromHrana = (value: unknown): unknown => {
  const v = value as { type?: string; value?: unknown; base64?: string }
  switch (v?.type) {
    case "null":
      return null
    case "integer":
      return BigInt(v.value as string | number)
    case "float":
      return Number(v.value)
    case "text":
      return String(v.value)
    case "blob":
      return Buffer.from(v.base64 ?? "", "base64")
    default:
      throw new SqlFailure(`invalid Hrana value ${JSON.stringify(value)}`, "HRANA_PROTO_ERROR")
  }
}

interface HranaStmt {
  sql?: string | null
  sql_id?: number | null
  args?: Array<unknown>
  named_args?: Array<{ name: string; value: unknown }>
  want_rows?: boolean
}

const sqlOf = (stream: Stream, body: { sql?: string | null; sql_id?: number | null }): string => {
  if (typeof body.sql === "string") return body.sql
  if (typeof body.sql_id === "number") {
    const sql = stream.sqls.get(body.sql_id)
    if (sql === undefined) throw new SqlFailure(`SQL text ${body.sql_id} is not stored`, "HRANA_PROTO_ERROR")
    return sql
  }
  throw new SqlFailure("a statement needs `sql` or `sql_id`", "HRANA_PROTO_ERROR")
}

const refuseWrite = (stream: Stream, stmt: Database.Statement) => {
  if (stream.readOnly && !stmt.readonly) {
    throw new SqlFailure("this connection token has the read scope only: writes are refused", "SQLITE_AUTH")
  }
}

const executeHrana = (stream: Stream, body: HranaStmt) => {
  const db = streamDb(stream)
  const stmt = prepare(db, sqlOf(stream, body))
  refuseWrite(stream, stmt)
  const args: Array<unknown> = (body.args ?? []).map((a) => toBind(fromHrana(a)))
  if (body.named_args !== undefined && body.named_args.length > 0) {
    const named: Record<string, unknown> = {}
    for (const arg of body.named_args) named[arg.name.replace(/^[:@$]/, "")] = toBind(fromHrana(arg.value))
    args.push(named)
  }
  if (stmt.reader) {
    stmt.raw(true)
    const cols = stmt.columns().map((c) => ({ name: c.name, decltype: c.type }))
    const rows = stmt.all(...args) as Array<Array<unknown>>
    const info = stmt.readonly ? undefined : (prepare(db, "SELECT changes(), last_insert_rowid()").raw(true).get() as [bigint, bigint])
    return {
      cols,
      rows: body.want_rows === false ? [] : rows.map((row) => row.map(toHrana)),
      affected_row_count: info === undefined ? 0 : Number(info[0]),
      last_insert_rowid: info === undefined ? null : info[1].toString()
    }
  }
  const info = stmt.run(...args)
  return {
    cols: [],
    rows: [],
    affected_row_count: info.changes,
    last_insert_rowid: stmt.readonly ? null : String(info.lastInsertRowid)
  }
}

type Cond =
  | { type: "ok"; step: number }
  | { type: "error"; step: number }
  | { type: "not"; cond: Cond }
  | { type: "and"; conds: Array<Cond> }
  | { type: "or"; conds: Array<Cond> }
  | { type: "is_autocommit" }

const batchHrana = (stream: Stream, batch: { steps?: Array<{ condition?: Cond | null; stmt: HranaStmt }> }) => {
  const steps = batch.steps ?? []
  const results: Array<unknown> = []
  const errors: Array<unknown> = []
  const evaluate = (cond: Cond): boolean => {
    switch (cond.type) {
      case "ok":
        return results[cond.step] !== null && results[cond.step] !== undefined
      case "error":
        return errors[cond.step] !== null && errors[cond.step] !== undefined
      case "not":
        return !evaluate(cond.cond)
      case "and":
        return cond.conds.every(evaluate)
      case "or":
        return cond.conds.some(evaluate)
      case "is_autocommit":
        return !streamDb(stream).inTransaction
      default:
        throw new SqlFailure(`unknown batch condition ${JSON.stringify(cond)}`, "HRANA_PROTO_ERROR")
    }
  }
  for (const step of steps) {
    if (step.condition !== undefined && step.condition !== null && !evaluate(step.condition)) {
      results.push(null)
      errors.push(null)
      continue
    }
    try {
      results.push(executeHrana(stream, step.stmt))
      errors.push(null)
    } catch (error) {
      const f = failure(error)
      results.push(null)
      errors.push({ message: f.message, code: f.code })
    }
  }
  return { step_results: results, step_errors: errors }
}

const streamRequest = (stream: Stream, request: Record<string, unknown>): { response: unknown; close?: boolean } => {
  switch (request["type"]) {
    case "execute":
      return { response: { type: "execute", result: executeHrana(stream, request["stmt"] as HranaStmt) } }
    case "batch":
      return { response: { type: "batch", result: batchHrana(stream, request["batch"] as never) } }
    case "sequence": {
      const db = streamDb(stream)
      db.exec(sqlOf(stream, request as never))
      return { response: { type: "sequence" } }
    }
    case "describe": {
      const stmt = prepare(streamDb(stream), sqlOf(stream, request as never))
      const sql = sqlOf(stream, request as never)
      return {
        response: {
          type: "describe",
          result: {
            // better-sqlite3 does not expose parameter names, so none are described.
            params: [],
            cols: stmt.reader ? stmt.columns().map((c) => ({ name: c.name, decltype: c.type })) : [],
            is_explain: /^\s*explain\b/i.test(sql),
            is_readonly: stmt.readonly
          }
        }
      }
    }
    case "store_sql": {
      const id = request["sql_id"] as number
      if (stream.sqls.has(id)) throw new SqlFailure(`SQL text ${id} is already stored`, "HRANA_PROTO_ERROR")
      stream.sqls.set(id, String(request["sql"]))
      return { response: { type: "store_sql" } }
    }
    case "close_sql":
      stream.sqls.delete(request["sql_id"] as number)
      return { response: { type: "close_sql" } }
    case "get_autocommit":
      return { response: { type: "get_autocommit", is_autocommit: !streamDb(stream).inTransaction } }
    case "close":
      return { response: { type: "close" }, close: true }
    default:
      throw new SqlFailure(`unknown Hrana request type ${JSON.stringify(request["type"])}`, "HRANA_PROTO_ERROR")
  }
}

const runStream = (request: Extract<Request, { op: "stream" }>) => {
  let stream = streams.get(request.stream)
  if (stream === undefined) {
    stream = { db: undefined, readOnly: request.readOnly, sqls: new Map() }
    streams.set(request.stream, stream)
  }
  const results: Array<unknown> = []
  let closed = false
  for (const item of request.requests) {
    if (closed) {
      results.push({ type: "error", error: { message: "the stream is closed", code: "STREAM_CLOSED" } })
      continue
    }
    try {
      const out = streamRequest(stream, item as Record<string, unknown>)
      results.push({ type: "ok", response: out.response })
      if (out.close === true) closed = true
    } catch (error) {
      const f = failure(error)
      results.push({ type: "error", error: { message: f.message, code: f.code } })
    }
  }
  const autocommit = closed || stream.db === undefined || !stream.db.inTransaction
  if (closed) {
    closeConnection(stream.db)
    streams.delete(request.stream)
  }
  return { results, autocommit, closed }
}

const closeAll = () => {
  for (const stream of streams.values()) {
    closeConnection(stream.db)
    stream.db = undefined
  }
  closeConnection(main)
  closeConnection(observer)
  main = undefined
  observer = undefined
}

const handle = (request: Request): unknown => {
  switch (request.op) {
    case "exec":
      return exec(request)
    case "stream":
      return runStream(request)
    case "closeStream": {
      const stream = streams.get(request.stream)
      if (stream !== undefined) closeConnection(stream.db)
      streams.delete(request.stream)
      return null
    }
    case "checkout":
      return mainDb().serialize()
    case "validate": {
      const candidate = new Database(request.path, { fileMustExist: true })
      try {
        const check = candidate.pragma("quick_check", { simple: true })
        if (check !== "ok") throw new SqlFailure(`the file fails SQLite's integrity check: ${String(check)}`, "SQLITE_CORRUPT")
        return null
      } finally {
        candidate.close()
      }
    }
    case "replace": {
      // Every connection is in autocommit here (heyod holds the database's lock), so closing
      // them loses nothing; streams reopen on the new file at their next request.
      closeAll()
      for (const suffix of ["-wal", "-shm"]) fs.rmSync(file + suffix, { force: true })
      fs.renameSync(request.path, file)
      lastDataVersion = observerDb().pragma("data_version", { simple: true }) as bigint
      mainDb()
      return null
    }
  }
}

process.on("message", (message: Request) => {
  let response: Response
  try {
    const value = handle(message)
    response = { id: message.id, ok: true, value, changed: changed() }
  } catch (error) {
    const f = failure(error)
    response = {
      id: message.id,
      ok: false,
      error: { message: f.message, code: f.code, statement: f.statement },
      changed: safeChanged()
    }
  }
  process.send!(response)
})

const safeChanged = () => {
  try {
    return changed()
  } catch {
    return false
  }
}

process.on("disconnect", () => {
  try {
    closeAll()
  } finally {
    process.exit(0)
  }
})

process.send({ ready: true })
