/**
 * heyod's durable state: SQLite (WAL) in the data dir. Every object that must survive a restart
 * lives here; in-memory state (running processes) is rebuilt from it at start-up.
 */
import Database from "better-sqlite3"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import type { SandboxRecord, StatusChange } from "./SandboxRecord.js"

export interface Service {
  readonly insertSandbox: (record: SandboxRecord) => Effect.Effect<void>
  readonly updateSandbox: (id: string, patch: Partial<Omit<SandboxRecord, "id">>) => Effect.Effect<void>
  readonly getSandbox: (id: string) => Effect.Effect<SandboxRecord | undefined>
  readonly getSandboxByName: (name: string) => Effect.Effect<SandboxRecord | undefined>
  readonly listSandboxes: (name?: string) => Effect.Effect<ReadonlyArray<SandboxRecord>>
  readonly deleteSandbox: (id: string) => Effect.Effect<void>
  readonly history: (id: string) => Effect.Effect<ReadonlyArray<StatusChange>>
  /**
   * The connection, for engine modules that keep their own tables (checkpoints, archives): each
   * creates them with `CREATE TABLE IF NOT EXISTS`, referencing `sandboxes(id)` with ON DELETE
   * CASCADE where its rows die with their sandbox.
   */
  readonly database: Database.Database
}

export class Store extends Context.Tag("@heyo-effect/server/Store")<Store, Service>() {}

const schema = `
CREATE TABLE IF NOT EXISTS sandboxes (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS status_history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  at TEXT NOT NULL,
  message TEXT
);
CREATE INDEX IF NOT EXISTS status_history_sandbox ON status_history(sandbox_id);
`

/**
 * Records are stored as one JSON document each: the engine owns their shape, and a new field
 * needs no migration. `name` is a column so SQLite enforces uniqueness.
 */
export const make = (dataDir: string) =>
  Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const db = new Database(path.join(dataDir, "heyod.db"))
        db.pragma("journal_mode = WAL")
        db.pragma("synchronous = NORMAL")
        db.pragma("foreign_keys = ON")
        db.exec(schema)
        return db
      }),
      (db) => Effect.sync(() => db.close())
    )
    const insert = db.prepare("INSERT INTO sandboxes (id, name, record) VALUES (?, ?, ?)")
    const update = db.prepare("UPDATE sandboxes SET name = ?, record = ? WHERE id = ?")
    const byId = db.prepare<[string], { record: string }>("SELECT record FROM sandboxes WHERE id = ?")
    const byName = db.prepare<[string], { record: string }>("SELECT record FROM sandboxes WHERE name = ?")
    const all = db.prepare<[], { record: string }>("SELECT record FROM sandboxes ORDER BY rowid")
    const remove = db.prepare("DELETE FROM sandboxes WHERE id = ?")
    const addHistory = db.prepare("INSERT INTO status_history (sandbox_id, status, at, message) VALUES (?, ?, ?, ?)")
    const historyOf = db.prepare<[string], StatusChange>(
      "SELECT status, at, message FROM status_history WHERE sandbox_id = ? ORDER BY seq"
    )
    const parse = (row: { record: string } | undefined): SandboxRecord | undefined =>
      row === undefined ? undefined : JSON.parse(row.record) as SandboxRecord

    const updateTx = db.transaction((id: string, patch: Partial<SandboxRecord>) => {
      const current = parse(byId.get(id))
      if (current === undefined) return
      const next: SandboxRecord = { ...current, ...patch, id }
      update.run(next.name, JSON.stringify(next), id)
      if (patch.status !== undefined && patch.status !== current.status) {
        addHistory.run(id, next.status, next.statusChangedAt, next.errorMessage)
      }
    })

    return Store.of({
      insertSandbox: (record) =>
        Effect.sync(() =>
          db.transaction(() => {
            insert.run(record.id, record.name, JSON.stringify(record))
            addHistory.run(record.id, record.status, record.statusChangedAt, record.errorMessage)
          })()
        ),
      updateSandbox: (id, patch) => Effect.sync(() => updateTx(id, patch)),
      getSandbox: (id) => Effect.sync(() => parse(byId.get(id))),
      getSandboxByName: (name) => Effect.sync(() => parse(byName.get(name))),
      listSandboxes: (name) =>
        Effect.sync(() =>
          name === undefined
            ? all.all().map((row) => parse(row)!)
            : [parse(byName.get(name))].filter((r): r is SandboxRecord => r !== undefined)
        ),
      deleteSandbox: (id) => Effect.sync(() => void remove.run(id)),
      history: (id) => Effect.sync(() => historyOf.all(id)),
      database: db
    })
  })

export const layer = (dataDir: string): Layer.Layer<Store> => Layer.scoped(Store, make(dataDir))
