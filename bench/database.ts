/**
 * Database throughput for `pnpm bench`: single-row inserts and point selects through
 * `Database.exec` (SDK -> HTTP -> heyod -> SQL worker process -> SQLite) beside the very same
 * statements on the very same file through better-sqlite3 in this process. The ratio is what
 * the HTTP hop and the worker hop cost per statement.
 *
 * BENCH_DB_OPS (default 2000) sets the statements of each kind and path.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Database, HeyoClient } from "@heyo-effect/sdk"
import BetterSqlite3 from "better-sqlite3"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import { clock } from "./support/Measure.js"

const ops = Number(process.env["BENCH_DB_OPS"] ?? 2000)

const rate = (count: number, millis: number) => count / (millis / 1000)

const row = (what: string, ours: number, raw: number) =>
  `${what.padEnd(34)} ${ours.toFixed(0).padStart(8)} /s ${raw.toFixed(0).padStart(9)} /s ${(raw / ours).toFixed(1).padStart(7)}x slower`

export const databaseBench = (url: string, dataDir: string) =>
  Effect.gen(function*() {
    const db = yield* Database.create({ name: `bench-db-${process.pid}` })
    yield* Database.exec(db.id, "CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    // Warm-up: the worker's start and the statement cache are not what is measured.
    yield* Database.exec(db.id, "INSERT INTO kv (v) VALUES (?)", ["warm"])
    yield* Database.exec(db.id, "SELECT v FROM kv WHERE id = ?", [1n])

    let started = clock()
    for (let i = 0; i < ops; i++) yield* Database.exec(db.id, "INSERT INTO kv (v) VALUES (?)", [`sdk-${i}`])
    const sdkInsert = rate(ops, clock() - started)
    started = clock()
    for (let i = 0; i < ops; i++) {
      const r = yield* Database.exec(db.id, "SELECT v FROM kv WHERE id = ?", [BigInt(2 + (i % ops))])
      if (r.rows.length !== 1) return yield* Effect.dieMessage(`point select ${i} found ${r.rows.length} rows`)
    }
    const sdkSelect = rate(ops, clock() - started)

    // The same file, the same statements, the same driver and settings, no hop at all.
    const direct = new BetterSqlite3(path.join(dataDir, "databases", `${db.id}.db`))
    direct.pragma("journal_mode = WAL")
    direct.pragma("synchronous = NORMAL")
    direct.defaultSafeIntegers(true)
    const insert = direct.prepare("INSERT INTO kv (v) VALUES (?)")
    const select = direct.prepare("SELECT v FROM kv WHERE id = ?").raw(true)
    started = clock()
    for (let i = 0; i < ops; i++) insert.run(`raw-${i}`)
    const rawInsert = rate(ops, clock() - started)
    started = clock()
    for (let i = 0; i < ops; i++) {
      if (select.all(BigInt(2 + (i % ops))).length !== 1) return yield* Effect.dieMessage(`raw point select ${i} missed`)
    }
    const rawSelect = rate(ops, clock() - started)
    direct.close()
    yield* Database.remove(db.id)

    yield* Console.log(`\n${`database, ${ops} statements`.padEnd(34)} ${"Database.exec".padStart(11)} ${"driver".padStart(12)} ${"ratio".padStart(13)}`)
    yield* Console.log(row("single-row INSERT", sdkInsert, rawInsert))
    yield* Console.log(row("point SELECT by primary key", sdkSelect, rawSelect))
    yield* Console.log(
      "driver = better-sqlite3 on the same file in this process (WAL, synchronous=NORMAL), one statement per call"
    )
  }).pipe(
    Effect.provide(Database.layer.pipe(Layer.provide(HeyoClient.layer({ baseUrl: url })), Layer.provide(NodeHttpClient.layerUndici)))
  )
