/**
 * Where archives live: one `archives` table in the state store and one file per archive,
 * `<dataDir>/archives/<id>.tar.gz`, readable only by heyod. Shared by the archive routes and by
 * sandbox creation (`archive_id`), which seeds a new sandbox from one.
 */
import type Database from "better-sqlite3"
import * as path from "node:path"

export type Status = "pending" | "ready"

export interface ArchiveRecord {
  readonly id: string
  /** The finalize call's `sandbox_id`: a label (the SDK sends the directory's name). */
  readonly label: string
  readonly name: string | null
  readonly sizeBytes: number
  readonly createdAt: string
  readonly status: Status
  /**
   * The directory every entry sits under (`workspace` for an SDK archive of `/workspace`), ""
   * when there is none: unpacking at that path strips it, so the files land where they belong.
   */
  readonly prefix: string
}

const schema = `
CREATE TABLE IF NOT EXISTS archives (
  id TEXT PRIMARY KEY,
  label TEXT NOT NULL,
  name TEXT,
  size_bytes INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL,
  prefix TEXT NOT NULL
);
`

interface Row {
  readonly id: string
  readonly label: string
  readonly name: string | null
  readonly size_bytes: number
  readonly created_at: string
  readonly status: Status
  readonly prefix: string
}

const recordOf = (row: Row): ArchiveRecord => ({
  id: row.id,
  label: row.label,
  name: row.name,
  sizeBytes: row.size_bytes,
  createdAt: row.created_at,
  status: row.status,
  prefix: row.prefix
})

export const idPattern = /^ar-[0-9a-z]{16}$/

export const directory = (dataDir: string) => path.join(dataDir, "archives")
export const fileOf = (dataDir: string, id: string) => path.join(directory(dataDir), `${id}.tar.gz`)

export const make = (db: Database.Database) => {
  db.exec(schema)
  const insert = db.prepare(
    "INSERT INTO archives (id, label, name, size_bytes, created_at, status, prefix) VALUES (?, ?, ?, ?, ?, ?, ?)"
  )
  const update = db.prepare(
    "UPDATE archives SET label = ?, name = ?, size_bytes = ?, status = ?, prefix = ? WHERE id = ?"
  )
  const one = db.prepare<[string], Row>("SELECT * FROM archives WHERE id = ?")
  const all = db.prepare<[], Row>("SELECT * FROM archives WHERE status = 'ready' ORDER BY created_at DESC, id")
  const remove = db.prepare("DELETE FROM archives WHERE id = ?")
  const stale = db.prepare<[string], { id: string }>("SELECT id FROM archives WHERE status = 'pending' AND created_at < ?")
  const ids = db.prepare<[], { id: string }>("SELECT id FROM archives")
  return {
    insert: (r: ArchiveRecord) =>
      void insert.run(r.id, r.label, r.name, r.sizeBytes, r.createdAt, r.status, r.prefix),
    update: (r: ArchiveRecord) => void update.run(r.label, r.name, r.sizeBytes, r.status, r.prefix, r.id),
    get: (id: string): ArchiveRecord | undefined => {
      const row = one.get(id)
      return row === undefined ? undefined : recordOf(row)
    },
    list: (): ReadonlyArray<ArchiveRecord> => all.all().map(recordOf),
    remove: (id: string) => void remove.run(id),
    /** Archives presigned before `before` (RFC 3339) and never finalized. */
    stalePending: (before: string): ReadonlyArray<string> => stale.all(before).map((r) => r.id),
    ids: (): ReadonlySet<string> => new Set(ids.all().map((r) => r.id))
  }
}
