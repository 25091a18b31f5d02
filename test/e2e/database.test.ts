/**
 * Databases end to end: the SDK's Database service and a stock @libsql/client against a real
 * heyod over loopback HTTP. SqlValue round trips against the documented read-back table,
 * transactions, truncation, connection tokens (scopes, revocation, expiry), checkout/checkin,
 * concurrent writers of both kinds, and a heyod restart.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { createClient } from "@libsql/client/http"
import { Database, HeyoClient } from "@heyo-effect/sdk"
import BetterSqlite3 from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"

const KEY = "database-e2e-key"

const layerFor = (heyod: Heyod.Heyod) =>
  Database.layer.pipe(
    Layer.provideMerge(HeyoClient.layer({ baseUrl: heyod.url, apiKey: Redacted.make(KEY) })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const libsql = (connection: Database.Connection) =>
  createClient({ url: connection.url, authToken: Redacted.value(connection.authToken) })

const flip = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect)

describe("Database against heyod", () => {
  let heyod: Heyod.Heyod
  const dataDir = Heyod.makeTempDir("heyod-db-")
  const run = <A, E>(effect: Effect.Effect<A, E, Database.Database | HeyoClient.HeyoClient>) =>
    effect.pipe(Effect.provide(layerFor(heyod)))

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY, dataDir, args: ["--storage", "dir", "--hrana-idle-timeout", "2s"] })
  })
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it.live("every SqlValue kind round-trips as the read-back table says", () =>
    run(Effect.gen(function*() {
      const db = yield* Database.create({ name: "values" })
      assert.match(db.id, /^db-[0-9a-z]{8}$/)
      assert.strictEqual(db.status, "running")
      yield* Database.exec(db.id, "CREATE TABLE v (k TEXT PRIMARY KEY, x)")
      const sent: ReadonlyArray<readonly [string, Database.SqlValue]> = [
        ["max", 2n ** 63n - 1n],
        ["min", -(2n ** 63n)],
        ["past53", 2n ** 53n + 1n],
        ["one-float", 1.0],
        ["tenth", 0.1],
        ["negzero", -0],
        ["big-float", 1e300],
        ["true", true],
        ["false", false],
        ["null", null],
        ["text", "héllo \"quoted\" \u0000 ✓"],
        ["digits", "9223372036854775807"]
      ]
      const inserted = yield* Database.batch(
        db.id,
        sent.map(([k, x]) => ({ sql: "INSERT INTO v (k, x) VALUES (?, ?)", args: [k, x] })),
        { transaction: "immediate" }
      )
      assert.strictEqual(inserted.results.length, sent.length)
      assert.strictEqual(inserted.results[0]!.rowsAffected, 1n)
      const read = yield* Database.exec(db.id, "SELECT k, x, typeof(x) FROM v ORDER BY rowid")
      assert.deepStrictEqual(read.columns, ["k", "x", "typeof(x)"])
      const got = new Map(read.rows.map((r) => [r[0] as string, [r[1], r[2]] as const]))
      const expect = (k: string, value: Database.SqlValue, type: string) => {
        const row = got.get(k)
        assert.isDefined(row, k)
        assert.strictEqual(row![1], type, `${k} stored as ${type}`)
        if (typeof value === "number" && Object.is(value, -0)) assert.strictEqual(row![0], 0)
        else assert.strictEqual(row![0], value, k)
      }
      expect("max", 9223372036854775807n, "integer")
      expect("min", -9223372036854775808n, "integer")
      expect("past53", 9007199254740993n, "integer")
      expect("one-float", 1, "real")
      assert.strictEqual(typeof got.get("one-float")![0], "number", "1.0 stays a float")
      expect("tenth", 0.1, "real")
      expect("negzero", 0, "real")
      expect("big-float", 1e300, "real")
      expect("true", 1n, "integer")
      expect("false", 0n, "integer")
      expect("null", null, "null")
      expect("text", "héllo \"quoted\" \u0000 ✓", "text")
      expect("digits", "9223372036854775807", "text")

      // Arithmetic on the server sees the exact integers.
      const sum = yield* Database.exec(db.id, "SELECT ? - 1, ? + 0.5", [2n ** 63n - 1n, 1.0])
      assert.deepStrictEqual(sum.rows[0], [2n ** 63n - 2n, 1.5])

      // A value with no wire form never leaves the client.
      const nan = yield* flip(Database.exec(db.id, "SELECT ?", [Number.NaN]))
      assert.strictEqual(nan._tag, "InvalidArgument")
      const tooBig = yield* flip(Database.exec(db.id, "SELECT ?", [2n ** 63n]))
      assert.strictEqual(tooBig._tag, "InvalidArgument")
    })))

  it.live("the raw wire: digits kept, 1.0 written as a float, NaN-like input refused with 400", () =>
    Effect.promise(async () => {
      const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json" }
      const created = await (await fetch(`${heyod.url}/sqlite-databases`, { method: "POST", headers, body: JSON.stringify({ name: "wire" }) })).json() as { id: string }
      const exec = (body: string) => fetch(`${heyod.url}/sqlite-databases/${created.id}/exec`, { method: "POST", headers, body })
      const ok = await exec(`{"statements":[{"sql":"SELECT ?, ?, ?, ?","args":[9223372036854775807, 1.0, 0.1, -9223372036854775808]}]}`)
      assert.strictEqual(ok.status, 200)
      const text = await ok.text()
      assert.include(text, "[9223372036854775807,1.0,0.1,-9223372036854775808]")
      const infinite = await exec(`{"statements":[{"sql":"SELECT ?","args":[1e400]}]}`)
      assert.strictEqual(infinite.status, 400)
      assert.include(((await infinite.json()) as { message: string }).message, "NaN and infinities")
      const outOfRange = await exec(`{"statements":[{"sql":"SELECT ?","args":[9223372036854775808]}]}`)
      assert.strictEqual(outOfRange.status, 400)
    }))

  it.live("a failing statement inside a transaction rolls the whole batch back; without one, earlier ones stay", () =>
    run(Effect.gen(function*() {
      const db = yield* Database.create({ name: "txn" })
      yield* Database.exec(db.id, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
      const failed = yield* flip(Database.batch(db.id, [
        { sql: "INSERT INTO t (v) VALUES (?)", args: ["a"] },
        { sql: "INSERT INTO t (v) VALUES (?)", args: ["b"] },
        { sql: "INSERT INTO t (v) VALUES (NULL)" }
      ], { transaction: "deferred" }))
      assert.strictEqual(failed._tag, "InvalidArgument")
      assert.include(failed.message, "statement 2")
      assert.include(failed.message, "NOT NULL")
      const none = yield* Database.exec(db.id, "SELECT count(*) FROM t")
      assert.deepStrictEqual(none.rows, [[0n]])

      yield* flip(Database.batch(db.id, [
        { sql: "INSERT INTO t (v) VALUES ('kept')" },
        { sql: "INSERT INTO t (v) VALUES (NULL)" }
      ]))
      const kept = yield* Database.exec(db.id, "SELECT v FROM t")
      assert.deepStrictEqual(kept.rows, [["kept"]])

      const ok = yield* Database.batch(db.id, [
        { sql: "INSERT INTO t (v) VALUES ('x')" },
        { sql: "UPDATE t SET v = v || '!'" }
      ], { transaction: "exclusive" })
      assert.strictEqual(ok.results[0]!.lastInsertRowid, 2n)
      assert.strictEqual(ok.results[1]!.rowsAffected, 2n)

      const leftOpen = yield* flip(Database.exec(db.id, "BEGIN"))
      assert.include(leftOpen.message, "left a transaction open")
      const syntax = yield* flip(Database.exec(db.id, "SELEKT 1"))
      assert.strictEqual(syntax._tag, "InvalidArgument")
    })))

  it.live("results past max_rows are truncated (default 1000, at most 10 000)", () =>
    run(Effect.gen(function*() {
      const db = yield* Database.create({ name: "rows" })
      const many = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 12000) SELECT x FROM c"
      const byDefault = yield* Database.exec(db.id, many)
      assert.strictEqual(byDefault.rows.length, 1000)
      assert.isTrue(byDefault.truncated)
      const five = yield* Database.exec(db.id, many, [], { maxRows: 5 })
      assert.deepStrictEqual(five.rows, [[1n], [2n], [3n], [4n], [5n]])
      assert.isTrue(five.truncated)
      const capped = yield* Database.exec(db.id, many, [], { maxRows: 50_000 })
      assert.strictEqual(capped.rows.length, 10_000)
      assert.isTrue(capped.truncated)
      const exact = yield* Database.exec(db.id, "SELECT 1 UNION ALL SELECT 2", [], { maxRows: 2 })
      assert.isFalse(exact.truncated)
      const zero = yield* flip(Database.exec(db.id, "SELECT 1", [], { maxRows: 0 }))
      assert.strictEqual(zero._tag, "InvalidArgument")
    })))

  it.live("create, get, list, regions, delete; typed refusals", () =>
    run(Effect.gen(function*() {
      const regions = yield* Database.regions
      assert.deepStrictEqual(regions, ["local"])
      const db = yield* Database.create({ name: "crud", region: "local" })
      const got = yield* Database.get(db.id)
      assert.strictEqual(got.name, "crud")
      const all = yield* Database.list
      assert.isTrue(all.some((d) => d.id === db.id))
      const duplicate = yield* flip(Database.create({ name: "crud" }))
      assert.strictEqual(duplicate._tag, "Api")
      assert.strictEqual((duplicate as { status?: number }).status, 409)
      const badRegion = yield* flip(Database.create({ name: "elsewhere", region: "mars" }))
      assert.strictEqual(badRegion._tag, "InvalidArgument")
      yield* Database.remove(db.id)
      const gone = yield* flip(Database.get(db.id))
      assert.strictEqual(gone._tag, "NotFound")
      const execGone = yield* flip(Database.exec(db.id, "SELECT 1"))
      assert.strictEqual(execGone._tag, "NotFound")
    })))

  it.live("tokens: a write token creates and inserts through @libsql/client; read is refused writes; revoked is 401; expired is refused", () =>
    run(Effect.gen(function*() {
      const db = yield* Database.create({ name: "tokens" })
      const writer = yield* Database.connect(db.id, { scopes: ["write"] })
      assert.isTrue(writer.url.endsWith(`/libsql/${db.id}/`))
      assert.isTrue(Redacted.value(writer.authToken).startsWith("heyo_db_"))
      assert.isTrue(writer.expiresAt.getTime() - Date.now() > 3500_000, "default TTL 1 h")

      const client = libsql(writer)
      yield* Effect.promise(async () => {
        await client.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, n INTEGER, f REAL)")
        const insert = await client.execute({ sql: "INSERT INTO notes (body, n, f) VALUES (?, ?, ?)", args: ["from libsql", 2n ** 62n, 0.5] })
        assert.strictEqual(insert.rowsAffected, 1)
        assert.strictEqual(insert.lastInsertRowid, 1n)
        await client.batch([
          { sql: "INSERT INTO notes (body) VALUES (?)", args: ["batch 1"] },
          { sql: "INSERT INTO notes (body) VALUES (?)", args: ["batch 2"] }
        ], "write")
        const tx = await client.transaction("write")
        await tx.execute({ sql: "INSERT INTO notes (body) VALUES (?)", args: ["in tx"] })
        const inside = await tx.execute("SELECT count(*) AS c FROM notes")
        assert.strictEqual(Number(inside.rows[0]!["c"]), 4)
        await tx.rollback()
        const rs = await client.execute("SELECT body, f FROM notes ORDER BY id")
        assert.deepStrictEqual(rs.rows.map((r) => r["body"]), ["from libsql", "batch 1", "batch 2"])
        assert.strictEqual(rs.rows[0]!["f"], 0.5)
        assert.strictEqual(rs.columns.join(","), "body,f")
        const exact = await createClient({ url: writer.url, authToken: Redacted.value(writer.authToken), intMode: "bigint" })
          .execute("SELECT n FROM notes WHERE id = 1")
        assert.strictEqual(exact.rows[0]!["n"], 2n ** 62n)
      })
      const seen = yield* Database.exec(db.id, "SELECT n FROM notes WHERE id = 1")
      assert.deepStrictEqual(seen.rows, [[2n ** 62n]])

      const reader = yield* Database.connect(db.id, { scopes: ["read"], ttl: "10 minutes" })
      const readClient = libsql(reader)
      const refused = yield* Effect.promise(async () => {
        const rows = await readClient.execute("SELECT count(*) AS c FROM notes")
        assert.strictEqual(Number(rows.rows[0]!["c"]), 3)
        return readClient.execute("INSERT INTO notes (body) VALUES ('nope')").then(() => undefined, (e: Error) => e)
      })
      assert.isDefined(refused, "a read token must be refused a write")
      assert.include(String(refused!.message), "read scope")

      const tokens = yield* Database.listConnections(db.id)
      assert.strictEqual(tokens.length, 2)
      const writerInfo = tokens.find((t) => t.id === writer.id)!
      assert.isNotNull(writerInfo.lastUsedAt, "last-used time recorded")
      assert.isFalse(writerInfo.revoked)

      yield* Database.revokeConnection(db.id, writer.id)
      const afterRevoke = yield* Effect.promise(() =>
        libsql(writer).execute("SELECT 1").then(() => undefined, (e: Error & { code?: string }) => e)
      )
      assert.isDefined(afterRevoke)
      assert.include(String(afterRevoke!.message), "Invalid connection token: the token was revoked")
      const rawRevoked = yield* Effect.promise(() =>
        fetch(new URL("v2/pipeline", writer.url), {
          method: "POST",
          headers: { authorization: `Bearer ${Redacted.value(writer.authToken)}` },
          body: JSON.stringify({ baton: null, requests: [] })
        })
      )
      assert.strictEqual(rawRevoked.status, 401)
      const listed = yield* Database.listConnections(db.id)
      assert.isTrue(listed.find((t) => t.id === writer.id)!.revoked)

      const shortLived = yield* Database.connect(db.id, { ttl: "1 second" })
      yield* Effect.sleep("1200 millis")
      const expired = yield* Effect.promise(() =>
        libsql(shortLived).execute("SELECT 1").then(() => undefined, (e: Error) => e)
      )
      assert.isDefined(expired)
      assert.include(String(expired!.message), "Invalid connection token: the token expired")

      const tooLong = yield* flip(Database.connect(db.id, { ttl: "25 hours" }))
      assert.strictEqual(tooLong._tag, "InvalidArgument")
    })))

  it.live("Hrana over HTTP on the wire: probes, v3/pipeline with batons, v1/execute, bad batons", () =>
    run(Effect.gen(function*() {
      const db = yield* Database.create({ name: "hrana-wire" })
      const token = yield* Database.connect(db.id)
      yield* Effect.promise(async () => {
        const base = token.url
        const auth = { authorization: `Bearer ${Redacted.value(token.authToken)}`, "content-type": "application/json" }
        assert.strictEqual((await fetch(new URL("v2", base))).status, 200)
        assert.strictEqual((await fetch(new URL("v3", base))).status, 200)
        assert.strictEqual((await fetch(new URL("v3-protobuf", base))).status, 404)
        const pipeline = (body: unknown) =>
          fetch(new URL("v3/pipeline", base), { method: "POST", headers: auth, body: JSON.stringify(body) })
        const first = await pipeline({
          baton: null,
          requests: [
            { type: "execute", stmt: { sql: "BEGIN" } },
            { type: "execute", stmt: { sql: "CREATE TABLE h (x)" } },
            { type: "execute", stmt: { sql: "INSERT INTO h VALUES (?)", args: [{ type: "integer", value: "9223372036854775807" }] } },
            { type: "get_autocommit" }
          ]
        })
        assert.strictEqual(first.status, 200)
        const body1 = await first.json() as { baton: string; results: Array<{ type: string; response: any }> }
        assert.isString(body1.baton)
        assert.deepStrictEqual(body1.results.map((r) => r.type), ["ok", "ok", "ok", "ok"])
        assert.strictEqual(body1.results[2]!.response.result.last_insert_rowid, "1")
        assert.isFalse(body1.results[3]!.response.is_autocommit)
        const second = await pipeline({
          baton: body1.baton,
          requests: [{ type: "execute", stmt: { sql: "COMMIT" } }, { type: "execute", stmt: { sql: "SELECT x, 0.5 FROM h" } }, { type: "close" }]
        })
        const body2 = await second.json() as { baton: string | null; results: Array<{ type: string; response: any }> }
        assert.isNull(body2.baton)
        assert.deepStrictEqual(body2.results[1]!.response.result.rows, [[{ type: "integer", value: "9223372036854775807" }, { type: "float", value: 0.5 }]])
        const reused = await pipeline({ baton: body1.baton, requests: [] })
        assert.strictEqual(reused.status, 400)
        const v1 = await fetch(new URL("v1/execute", base), { method: "POST", headers: auth, body: JSON.stringify({ stmt: { sql: "SELECT count(*) FROM h" } }) })
        assert.deepStrictEqual(((await v1.json()) as any).result.rows, [[{ type: "integer", value: "1" }]])
        const statements = await fetch(new URL("v1/execute", base), {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ statements: [{ sql: "SELECT 1" }, "SELECT 2"] })
        })
        assert.strictEqual(((await statements.json()) as any).results.length, 2)
        const cursor = await fetch(new URL("v3/cursor", base), {
          method: "POST",
          headers: auth,
          body: JSON.stringify({
            baton: null,
            batch: { steps: [{ stmt: { sql: "SELECT x FROM h" } }, { stmt: { sql: "SELEKT" } }, { condition: { type: "ok", step: 1 }, stmt: { sql: "SELECT 1" } }] }
          })
        })
        const entries = (await cursor.text()).trim().split("\n").map((line) => JSON.parse(line))
        assert.isString(entries[0].baton)
        assert.deepStrictEqual(entries.slice(1).map((e: { type: string }) => e.type), ["step_begin", "row", "step_end", "step_error"])
        assert.deepStrictEqual(entries[2].row, [{ type: "integer", value: "9223372036854775807" }])
        const noAuth = await fetch(new URL("v2/pipeline", base), { method: "POST", body: JSON.stringify({ baton: null, requests: [] }) })
        assert.strictEqual(noAuth.status, 401)
        assert.include(((await noAuth.json()) as { message: string }).message, "Invalid connection token")
      })
    })))

  it.live("an abandoned interactive transaction is rolled back after the idle timeout, freeing the writer lock", () =>
    run(Effect.gen(function*() {
      const db = yield* Database.create({ name: "abandoned" })
      yield* Database.exec(db.id, "CREATE TABLE a (v TEXT)")
      const token = yield* Database.connect(db.id)
      const pipeline = (body: unknown) =>
        fetch(new URL("v2/pipeline", token.url), {
          method: "POST",
          headers: { authorization: `Bearer ${Redacted.value(token.authToken)}`, "content-type": "application/json" },
          body: JSON.stringify(body)
        })
      const opened = yield* Effect.promise(async () =>
        (await (await pipeline({
          baton: null,
          requests: [{ type: "execute", stmt: { sql: "BEGIN IMMEDIATE" } }, { type: "execute", stmt: { sql: "INSERT INTO a VALUES ('abandoned')" } }]
        })).json()) as { baton: string }
      )
      const started = Date.now()
      yield* Database.exec(db.id, "INSERT INTO a VALUES ('after')")
      const waited = Date.now() - started
      assert.isAtLeast(waited, 1500, "the write waited for the open transaction")
      assert.isBelow(waited, 8000)
      const rows = yield* Database.exec(db.id, "SELECT v FROM a")
      assert.deepStrictEqual(rows.rows, [["after"]])
      const stale = yield* Effect.promise(() => pipeline({ baton: opened.baton, requests: [{ type: "execute", stmt: { sql: "COMMIT" } }] }))
      assert.strictEqual(stale.status, 400)
    })))

  it.live("20 concurrent writers, SDK batches and libsql interactive transactions mixed: no lost write, no 500", () =>
    run(Effect.gen(function*() {
      const db = yield* Database.create({ name: "contended" })
      yield* Database.batch(db.id, [
        { sql: "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)" },
        { sql: "INSERT INTO counter VALUES (1, 0)" },
        { sql: "CREATE TABLE log (who TEXT)" }
      ])
      const token = yield* Database.connect(db.id)
      const sdkWriter = (i: number) =>
        Database.batch(db.id, [
          { sql: "UPDATE counter SET n = (SELECT n FROM counter WHERE id = 1) + 1 WHERE id = 1" },
          { sql: "INSERT INTO log VALUES (?)", args: [`sdk-${i}`] }
        ], { transaction: "immediate" })
      const libsqlWriter = (i: number) =>
        Effect.promise(async () => {
          const client = libsql(token)
          try {
            const tx = await client.transaction("write")
            const current = await tx.execute("SELECT n FROM counter WHERE id = 1")
            await new Promise((r) => setTimeout(r, 5))
            await tx.execute({ sql: "UPDATE counter SET n = ? WHERE id = 1", args: [Number(current.rows[0]!["n"]) + 1] })
            await tx.execute({ sql: "INSERT INTO log VALUES (?)", args: [`libsql-${i}`] })
            await tx.commit()
          } finally {
            client.close()
          }
        })
      yield* Effect.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? sdkWriter(i) : libsqlWriter(i))),
        { concurrency: "unbounded", discard: true }
      )
      const counter = yield* Database.exec(db.id, "SELECT n FROM counter")
      assert.deepStrictEqual(counter.rows, [[20n]])
      const log = yield* Database.exec(db.id, "SELECT count(DISTINCT who) FROM log")
      assert.deepStrictEqual(log.rows, [[20n]])
    })), 60_000)

  it.live("checkout -> edit locally with SQLite -> checkin; a stale version is 409; a corrupt file is refused", () =>
    run(Effect.gen(function*() {
      const db = yield* Database.create({ name: "files" })
      yield* Database.batch(db.id, [
        { sql: "CREATE TABLE f (v TEXT)" },
        { sql: "INSERT INTO f VALUES ('server')" }
      ])
      const token = yield* Database.connect(db.id)
      // A write still in the WAL (no checkpoint yet) must be in the checkout.
      yield* Effect.promise(() => libsql(token).execute("INSERT INTO f VALUES ('through libsql')"))
      const out = yield* Database.checkout(db.id)
      assert.isAbove(out.version, 0)
      const local = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "db-checkout-")), "copy.db")
      fs.writeFileSync(local, out.bytes)
      const edited = new BetterSqlite3(local)
      assert.deepStrictEqual(edited.prepare("SELECT v FROM f ORDER BY rowid").pluck().all(), ["server", "through libsql"])
      edited.prepare("INSERT INTO f VALUES ('edited locally')").run()
      edited.pragma("wal_checkpoint(TRUNCATE)")
      edited.close()
      const bytes = fs.readFileSync(local)

      // Someone writes meanwhile: our version is stale.
      yield* Database.exec(db.id, "INSERT INTO f VALUES ('meanwhile')")
      const conflict = yield* flip(Database.checkin(db.id, bytes, { expectedVersion: out.version }))
      assert.strictEqual(conflict._tag, "CheckinConflict")
      const current = (conflict as Extract<typeof conflict, { _tag: "CheckinConflict" }>).current
      assert.isAbove(current, out.version)
      const unchanged = yield* Database.exec(db.id, "SELECT count(*) FROM f")
      assert.deepStrictEqual(unchanged.rows, [[3n]])

      const corrupt = yield* flip(Database.checkin(db.id, new TextEncoder().encode("not a database at all, just text"), { force: true }))
      assert.strictEqual(corrupt._tag, "InvalidArgument")
      const stillThere = yield* Database.exec(db.id, "SELECT count(*) FROM f")
      assert.deepStrictEqual(stillThere.rows, [[3n]])

      const neither = yield* flip(Database.checkin(db.id, bytes, {} as never))
      assert.strictEqual(neither._tag, "InvalidArgument")

      const accepted = yield* Database.checkin(db.id, bytes, { expectedVersion: current })
      assert.strictEqual(accepted.version, current + 1)
      assert.isFalse(accepted.forced)
      const after = yield* Database.exec(db.id, "SELECT v FROM f ORDER BY rowid")
      assert.deepStrictEqual(after.rows, [["server"], ["through libsql"], ["edited locally"]])
      // The open token keeps working on the swapped file.
      const viaToken = yield* Effect.promise(() => libsql(token).execute("SELECT count(*) AS c FROM f"))
      assert.strictEqual(Number(viaToken.rows[0]!["c"]), 3)

      const forced = yield* Database.checkin(db.id, bytes, { force: true })
      assert.isTrue(forced.forced)
      const again = yield* Database.checkout(db.id)
      assert.strictEqual(again.version, forced.version)
    })))

  it.live("databases, tokens and versions survive a heyod restart", () =>
    Effect.gen(function*() {
      const before = yield* run(Effect.gen(function*() {
        const db = yield* Database.create({ name: "durable" })
        yield* Database.batch(db.id, [{ sql: "CREATE TABLE d (v)" }, { sql: "INSERT INTO d VALUES (42)" }])
        const token = yield* Database.connect(db.id)
        const out = yield* Database.checkout(db.id)
        return { db, token, version: out.version }
      }))
      yield* Effect.promise(() => heyod.stop())
      // The SQL workers end with heyod: no process still holds a database file.
      assert.deepStrictEqual(Heyod.leftovers(dataDir).processes, [])
      heyod = yield* Effect.promise(() => Heyod.start({ apiKey: KEY, dataDir, args: ["--storage", "dir", "--hrana-idle-timeout", "2s"] }))
      yield* run(Effect.gen(function*() {
        const got = yield* Database.get(before.db.id)
        assert.strictEqual(got.name, "durable")
        const rows = yield* Database.exec(before.db.id, "SELECT v FROM d")
        assert.deepStrictEqual(rows.rows, [[42n]])
        const out = yield* Database.checkout(before.db.id)
        assert.strictEqual(out.version, before.version)
        const tokens = yield* Database.listConnections(before.db.id)
        assert.isTrue(tokens.some((t) => t.id === before.token.id))
        // The token's url has the old port; the credential itself must still be good.
        const url = before.token.url.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${heyod.port}`)
        const viaToken = yield* Effect.promise(() =>
          createClient({ url, authToken: Redacted.value(before.token.authToken) }).execute("SELECT v FROM d")
        )
        assert.strictEqual(Number(viaToken.rows[0]!["v"]), 42)
      }))
    }), 120_000)
})
