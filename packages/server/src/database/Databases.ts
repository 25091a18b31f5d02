/**
 * The database engine: cloud-style SQLite databases, each a real SQLite file (WAL) under
 * `<data dir>/databases/`, queried by its own SQL worker process (SqlProcess.ts) so that a
 * runaway query costs that database its worker, never heyod's event loop.
 *
 * One writer at a time: every request to a database's worker takes that database's lock, and a
 * Hrana stream that is left inside a transaction keeps it until it commits, rolls back, closes
 * or idles out. Requests therefore queue instead of meeting SQLITE_BUSY, and a transaction sees
 * no other writer. The data version moves with every committed write, whoever made it.
 */
import type { SqlJson } from "@heyo-effect/protocol"
import { HeyoDatabase } from "@heyo-effect/protocol"
import Database from "better-sqlite3"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as util from "node:util"
import * as zlib from "node:zlib"
import { ServerConfig } from "../ServerConfig.js"
import { Catalog, type DatabaseRecord, type TokenRecord } from "./Catalog.js"
import {
  DatabaseConflict,
  DatabaseInvalid,
  DatabaseNotFound,
  SqlFailed,
  SqlTimedOut,
  SqlWorkerFailed,
  StreamExpired,
  TokenNotFound,
  TokenRefused,
  VersionConflict
} from "./DatabaseError.js"
import { randomId } from "../internal/RandomId.js"
import { type Outcome, SqlProcess } from "./SqlProcess.js"
import type { ExecValue, Request, StatementOutcome, StreamValue } from "./WorkerProtocol.js"

export type { DatabaseRecord, TokenRecord }

/** heyod's one region: the machine it runs on. */
export const REGIONS: ReadonlyArray<string> = ["local"]

export interface CreateSpec {
  readonly name: string
  readonly region?: string | undefined
  readonly sizeClass?: string | undefined
  readonly envVars?: Readonly<Record<string, string>> | undefined
  readonly engine?: string | undefined
}

export interface ExecSpec {
  readonly statements: ReadonlyArray<{ readonly sql: string; readonly args: ReadonlyArray<SqlJson.SqlValue> }>
  readonly transaction?: HeyoDatabase.SqlTransactionMode | undefined
  readonly maxRows?: number | undefined
}

export interface ExecOutcome {
  readonly results: ReadonlyArray<StatementOutcome>
  readonly elapsedMs: number
}

export interface NewToken {
  readonly token: TokenRecord
  readonly secret: string
}

export type QueryError = DatabaseNotFound | SqlFailed | SqlTimedOut | SqlWorkerFailed

export interface Service {
  readonly regions: ReadonlyArray<string>
  readonly create: (spec: CreateSpec) => Effect.Effect<DatabaseRecord, DatabaseInvalid | DatabaseConflict>
  readonly list: Effect.Effect<ReadonlyArray<DatabaseRecord>>
  readonly get: (id: string) => Effect.Effect<DatabaseRecord, DatabaseNotFound>
  readonly remove: (id: string) => Effect.Effect<void, DatabaseNotFound>
  readonly exec: (id: string, spec: ExecSpec) => Effect.Effect<ExecOutcome, QueryError>
  readonly createToken: (
    id: string,
    options: { readonly ttlSeconds?: number | undefined; readonly scopes?: ReadonlyArray<HeyoDatabase.ConnectionScope> | undefined }
  ) => Effect.Effect<NewToken, DatabaseNotFound>
  readonly listTokens: (id: string) => Effect.Effect<ReadonlyArray<TokenRecord>, DatabaseNotFound>
  readonly revokeToken: (id: string, tokenId: string) => Effect.Effect<void, DatabaseNotFound | TokenNotFound>
  /** The token a `heyo_db_` secret stands for, if it may reach database `id` now; records its use. */
  readonly authenticate: (id: string, secret: string) => Effect.Effect<TokenRecord, TokenRefused>
  /** Runs Hrana stream requests; `baton` null opens a stream. The answer's baton is null once closed. */
  readonly pipeline: (
    token: TokenRecord,
    baton: string | null,
    requests: ReadonlyArray<unknown>
  ) => Effect.Effect<{ readonly baton: string | null; readonly results: ReadonlyArray<unknown> }, StreamExpired | QueryError>
  /** The whole database (every committed write, WAL frames included), gzipped, and its version. */
  readonly checkout: (id: string) => Effect.Effect<{ readonly version: number; readonly gzip: Uint8Array }, QueryError>
  readonly checkin: (
    id: string,
    gzip: Uint8Array,
    options: { readonly expectedVersion: number | undefined; readonly force: boolean }
  ) => Effect.Effect<{ readonly version: number; readonly forced: boolean }, QueryError | DatabaseInvalid | VersionConflict>
}

export class Databases extends Context.Tag("@heyo-effect/server/Databases")<Databases, Service>() {}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
const hashSecret = (secret: string) => crypto.createHash("sha256").update(secret).digest("hex")
const now = () => new Date().toISOString()
const gunzip = util.promisify(zlib.gunzip)
const gzip = util.promisify(zlib.gzip)

/** A Hrana stream: one connection in the worker, addressed by a baton that changes every call. */
interface StreamState {
  readonly key: number
  readonly databaseId: string
  readonly tokenId: string
  readonly readOnly: boolean
  baton: string | undefined
  timer: NodeJS.Timeout | undefined
  /** Its connection died with the worker: every later call is refused. */
  dead: boolean
}

/** A database in use: its worker, its lock, and who holds the lock between calls. */
interface Live {
  readonly id: string
  readonly process: SqlProcess
  readonly lock: Effect.Semaphore
  /** The stream inside a transaction, holding the lock between its calls. */
  holder: StreamState | undefined
  readonly streams: Set<StreamState>
  version: number
  deleted: boolean
}

export const make = Effect.gen(function*() {
  const config = yield* ServerConfig
  const dir = path.join(config.dataDir, "databases")
  fs.mkdirSync(dir, { recursive: true })
  const catalog = yield* Effect.acquireRelease(
    Effect.sync(() => new Catalog(path.join(dir, "catalog.db"))),
    (c) => Effect.sync(() => c.close())
  )
  const statementTimeout = Duration.toMillis(config.sqlStatementTimeout)
  const idleTimeout = Duration.toMillis(config.hranaIdleTimeout)
  const fileOf = (id: string) => path.join(dir, `${id}.db`)
  const lives = new Map<string, Live>()
  const batons = new Map<string, StreamState>()
  let nextStream = 1

  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      for (const stream of batons.values()) if (stream.timer !== undefined) clearTimeout(stream.timer)
      await Promise.all([...lives.values()].map((live) => live.process.close()))
    })
  )

  const forgetStream = (live: Live, stream: StreamState) => {
    if (stream.timer !== undefined) clearTimeout(stream.timer)
    stream.timer = undefined
    if (stream.baton !== undefined) batons.delete(stream.baton)
    stream.baton = undefined
    live.streams.delete(stream)
  }

  const liveOf = (record: DatabaseRecord): Live => {
    let live = lives.get(record.id)
    if (live === undefined) {
      const created: Live = {
        id: record.id,
        process: new SqlProcess(fileOf(record.id), () => {
          // Every connection died with the worker: streams cannot go on, and a transaction
          // holding the lock is gone, so the lock is free again.
          for (const stream of created.streams) {
            stream.dead = true
            forgetStream(created, stream)
          }
          if (created.holder !== undefined) {
            created.holder = undefined
            Effect.runSync(created.lock.release(1))
          }
        }),
        lock: Effect.unsafeMakeSemaphore(1),
        holder: undefined,
        streams: new Set(),
        version: record.dataVersion,
        deleted: false
      }
      live = created
      lives.set(record.id, live)
    }
    return live
  }

  const find = (id: string) =>
    Effect.suspend(() => {
      const record = catalog.getDatabase(id)
      return record === undefined ? Effect.fail(new DatabaseNotFound({ databaseId: id })) : Effect.succeed(record)
    })

  const bumpVersion = (live: Live, by = 1) => {
    live.version += by
    catalog.setDataVersion(live.id, live.version, now())
  }

  /** One request to the worker; the caller holds the lock. */
  const send = (
    live: Live,
    request: Parameters<SqlProcess["request"]>[0]
  ): Effect.Effect<unknown, SqlFailed | SqlTimedOut | SqlWorkerFailed> =>
    Effect.promise(() => live.process.request(request, statementTimeout)).pipe(
      Effect.flatMap((outcome: Outcome): Effect.Effect<unknown, SqlFailed | SqlTimedOut | SqlWorkerFailed> => {
        if (outcome._tag === "Failed") {
          return Effect.fail(
            outcome.failure._tag === "Timeout"
              ? new SqlTimedOut({ millis: outcome.failure.millis })
              : new SqlWorkerFailed({ message: outcome.failure.message })
          )
        }
        const response = outcome.response
        if (response.changed) bumpVersion(live)
        return response.ok
          ? Effect.succeed(response.value)
          : Effect.fail(new SqlFailed({ message: response.error.message, code: response.error.code, statement: response.error.statement }))
      })
    )

  /**
   * Runs `use` holding the database's lock; a database deleted meanwhile is NotFound. Waiting
   * for the lock can be interrupted (a client gone, heyod stopping); the work itself cannot,
   * since the worker would finish it anyway.
   */
  const locked = <A, E>(id: string, use: (live: Live) => Effect.Effect<A, E>): Effect.Effect<A, E | DatabaseNotFound> =>
    Effect.flatMap(find(id), (record) => {
      const live = liveOf(record)
      return live.lock.withPermits(1)(
        Effect.suspend((): Effect.Effect<A, E | DatabaseNotFound> =>
          live.deleted ? Effect.fail(new DatabaseNotFound({ databaseId: id })) : use(live)
        ).pipe(Effect.uninterruptible)
      )
    })

  const create = (spec: CreateSpec) =>
    Effect.gen(function*() {
      if (!namePattern.test(spec.name)) {
        return yield* new DatabaseInvalid({
          message: `invalid database name "${spec.name}": 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`
        })
      }
      const region = spec.region ?? REGIONS[0]!
      if (!REGIONS.includes(region)) {
        return yield* new DatabaseInvalid({ message: `unknown region "${region}": heyod has ${REGIONS.join(", ")}` })
      }
      const engine = spec.engine ?? "sqlite"
      if (engine !== "sqlite") {
        return yield* new DatabaseInvalid({ message: `engine "${engine}" is not available on heyod: only sqlite` })
      }
      if (catalog.getDatabaseByName(spec.name) !== undefined) {
        return yield* new DatabaseConflict({ message: `a database named "${spec.name}" already exists` })
      }
      const at = now()
      const record: DatabaseRecord = {
        id: randomId("db-"),
        name: spec.name,
        region,
        engine,
        sizeClass: spec.sizeClass ?? null,
        envVars: spec.envVars ?? null,
        status: "running",
        createdAt: at,
        updatedAt: at,
        statusChangedAt: at,
        dataVersion: 0
      }
      yield* Effect.sync(() => {
        // The file exists, in WAL mode, before anyone can reach it.
        const db = new Database(fileOf(record.id))
        db.pragma("journal_mode = WAL")
        db.close()
        catalog.insertDatabase(record)
      })
      return record
    })

  const remove = (id: string) =>
    locked(id, (live) =>
      Effect.promise(async () => {
        live.deleted = true
        for (const stream of live.streams) {
          stream.dead = true
          forgetStream(live, stream)
        }
        await live.process.close()
        lives.delete(id)
        catalog.deleteDatabase(id)
        for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(fileOf(id) + suffix, { force: true })
      }))

  const exec = (id: string, spec: ExecSpec) =>
    locked(id, (live) =>
      Effect.gen(function*() {
        const started = performance.now()
        const request: Request = {
          op: "exec",
          id: 0,
          statements: spec.statements,
          transaction: spec.transaction,
          maxRows: Math.min(spec.maxRows ?? HeyoDatabase.DEFAULT_MAX_ROWS, HeyoDatabase.MAX_ROWS_CAP)
        }
        const value = (yield* send(live, request)) as ExecValue
        return { results: value.results, elapsedMs: Math.round(performance.now() - started) }
      }))

  const createToken: Service["createToken"] = (id, options) =>
    Effect.map(find(id), (record) => {
      const secret = HeyoDatabase.TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url")
      const created = new Date()
      const ttl = options.ttlSeconds ?? HeyoDatabase.DEFAULT_TOKEN_TTL_SECONDS
      const token: TokenRecord = {
        id: randomId("dbt-"),
        databaseId: record.id,
        scopes: options.scopes === undefined ? ["read", "write"] : [...new Set(options.scopes)],
        revoked: false,
        expiresAt: new Date(created.getTime() + ttl * 1000).toISOString(),
        createdAt: created.toISOString(),
        lastUsedAt: null
      }
      catalog.insertToken(token, hashSecret(secret))
      return { token, secret }
    })

  const authenticate = (id: string, secret: string) =>
    Effect.suspend(() => {
      const token = secret.startsWith(HeyoDatabase.TOKEN_PREFIX) ? catalog.tokenByHash(hashSecret(secret)) : undefined
      const refuse = (why: string) => Effect.fail(new TokenRefused({ message: `Invalid connection token: ${why}` }))
      if (token === undefined || token.databaseId !== id) return refuse("unknown token")
      if (token.revoked) return refuse("the token was revoked")
      if (Date.parse(token.expiresAt) <= Date.now()) return refuse(`the token expired at ${token.expiresAt}`)
      if (catalog.getDatabase(id) === undefined) return refuse("its database was deleted")
      const at = now()
      catalog.touchToken(token.id, at)
      return Effect.succeed({ ...token, lastUsedAt: at })
    })

  const armIdle = (live: Live, stream: StreamState) => {
    stream.timer = setTimeout(() => {
      // An abandoned stream: roll its transaction back and free the lock it may hold.
      if (stream.dead || stream.baton === undefined) return
      forgetStream(live, stream)
      stream.dead = true
      const holding = live.holder === stream
      // No deadline of its own: it may queue behind another request, and a worker stuck on
      // that one is killed by that one's timeout.
      void live.process.request({ op: "closeStream", stream: stream.key }, undefined).finally(() => {
        if (holding && live.holder === stream) {
          live.holder = undefined
          Effect.runSync(live.lock.release(1))
        }
      })
    }, idleTimeout)
    stream.timer.unref()
  }

  const pipeline: Service["pipeline"] = (token, baton, requests) =>
    Effect.uninterruptibleMask((restore) => Effect.gen(function*() {
      const record = yield* find(token.databaseId)
      const live = liveOf(record)
      let stream: StreamState
      if (baton === null) {
        stream = {
          key: nextStream++,
          databaseId: record.id,
          tokenId: token.id,
          readOnly: !token.scopes.includes("write"),
          baton: undefined,
          timer: undefined,
          dead: false
        }
        live.streams.add(stream)
      } else {
        const found = batons.get(baton)
        if (found === undefined || found.dead || found.databaseId !== record.id || found.tokenId !== token.id) {
          return yield* new StreamExpired({
            message: "unknown baton: the stream was closed, idled out, or its worker restarted"
          })
        }
        stream = found
        // A baton is good for one call: the next call needs the one this call returns.
        batons.delete(baton)
        stream.baton = undefined
        if (stream.timer !== undefined) clearTimeout(stream.timer)
      }
      const holding = live.holder === stream
      if (!holding) {
        // Only the wait is interruptible; an interrupted stream is over (its baton is spent).
        yield* restore(live.lock.take(1)).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              stream.dead = true
              forgetStream(live, stream)
              void live.process.request({ op: "closeStream", stream: stream.key }, undefined)
            })
          )
        )
      }
      const exit = yield* Effect.exit<unknown, QueryError, never>(
        live.deleted
          ? Effect.fail(new DatabaseNotFound({ databaseId: record.id }))
          : send(live, { op: "stream", stream: stream.key, readOnly: stream.readOnly, requests })
      )
      if (exit._tag === "Failure") {
        // The holder's permit is freed by the worker's exit hook; a permit taken here is ours.
        if (!holding) yield* live.lock.release(1)
        forgetStream(live, stream)
        return yield* Effect.failCause(exit.cause)
      }
      const value = exit.value as StreamValue
      if (value.closed || value.autocommit) {
        if (holding || live.holder === stream) live.holder = undefined
        yield* live.lock.release(1)
      } else {
        live.holder = stream
      }
      if (value.closed) {
        forgetStream(live, stream)
        return { baton: null, results: value.results }
      }
      const next = `${stream.key}.${crypto.randomBytes(18).toString("base64url")}`
      stream.baton = next
      batons.set(next, stream)
      armIdle(live, stream)
      return { baton: next, results: value.results }
    }))

  const checkout = (id: string) =>
    locked(id, (live) =>
      Effect.gen(function*() {
        const bytes = (yield* send(live, { op: "checkout" })) as Uint8Array
        const version = live.version
        const zipped = yield* Effect.promise(() => gzip(bytes))
        return { version, gzip: new Uint8Array(zipped.buffer, zipped.byteOffset, zipped.byteLength) }
      }))

  const checkin: Service["checkin"] = (id, body, options) =>
    Effect.gen(function*() {
      const raw = yield* Effect.tryPromise({
        try: () => gunzip(body),
        catch: (e) => new DatabaseInvalid({ message: `the body is not gzip data: ${(e as Error).message}` })
      })
      return yield* locked(id, (live) =>
        Effect.gen(function*(): Effect.fn.Return<{ version: number; forced: boolean }, QueryError | DatabaseInvalid | VersionConflict> {
          if (!options.force && options.expectedVersion !== live.version) {
            return yield* new VersionConflict({ expected: options.expectedVersion ?? -1, current: live.version })
          }
          const incoming = `${fileOf(id)}.incoming-${crypto.randomBytes(6).toString("hex")}`
          yield* Effect.promise(() => fs.promises.writeFile(incoming, raw))
          const swapped = Effect.gen(function*() {
            yield* send(live, { op: "validate", path: incoming }).pipe(
              Effect.catchTag("SqlFailed", (e) =>
                Effect.fail(new DatabaseInvalid({ message: `the file is not a valid SQLite database: ${e.message}` })))
            )
            yield* send(live, { op: "replace", path: incoming })
          })
          yield* swapped.pipe(
            Effect.ensuring(Effect.sync(() => fs.rmSync(incoming, { force: true })))
          )
          bumpVersion(live)
          return { version: live.version, forced: options.force }
        }))
    })

  return Databases.of({
    regions: REGIONS,
    create,
    list: Effect.sync(() => catalog.listDatabases()),
    get: find,
    remove,
    exec,
    createToken,
    listTokens: (id) => Effect.map(find(id), () => catalog.tokensOf(id)),
    revokeToken: (id, tokenId) =>
      Effect.flatMap(find(id), () =>
        Effect.suspend(() =>
          catalog.revokeToken(id, tokenId) ? Effect.void : Effect.fail(new TokenNotFound({ tokenId }))
        )),
    authenticate,
    pipeline,
    checkout,
    checkin
  })
})

export const layer: Layer.Layer<Databases, never, ServerConfig> = Layer.scoped(Databases, make)
