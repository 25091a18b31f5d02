/**
 * `archive_id` in `POST /sandbox-deploy`: the archive is unpacked into the new sandbox on its
 * first start, before the setup hooks (which may build what it brought), and never again. The
 * pending seed is a row of its own, dropped with its sandbox.
 *
 * Where it lands: at the directory all its entries sit under (`/workspace` for an SDK archive
 * of `/workspace`, whose entries are `workspace/...`), else in `/workspace`.
 */
import type Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import type { Service as RuntimeService } from "../runtime/Runtime.js"
import * as ArchiveStore from "./ArchiveStore.js"
import { stripFor, unpack } from "./ArchiveUnpack.js"
import { HostFailure, InvalidRequest } from "./EngineError.js"

const defaultDestination = "/workspace"

const schema = `
CREATE TABLE IF NOT EXISTS archive_seeds (
  sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,
  archive_id TEXT NOT NULL
);
`

export const make = (db: Database.Database, dataDir: string, runtime: RuntimeService) => {
  db.exec(schema)
  const archives = ArchiveStore.make(db)
  const insert = db.prepare("INSERT OR REPLACE INTO archive_seeds (sandbox_id, archive_id) VALUES (?, ?)")
  const pending = db.prepare<[string], { archive_id: string }>("SELECT archive_id FROM archive_seeds WHERE sandbox_id = ?")
  const done = db.prepare("DELETE FROM archive_seeds WHERE sandbox_id = ?")

  /** Refuses an archive that does not exist or was never finalized, before any sandbox is made. */
  const validate = (archiveId: string) =>
    Effect.suspend(() => {
      const record = archives.get(archiveId)
      return record !== undefined && record.status === "ready"
        ? Effect.void
        : Effect.fail(new InvalidRequest({ message: `archive_id: no finalized archive ${JSON.stringify(archiveId)}` }))
    })

  const request = (sandboxId: string, archiveId: string) => Effect.sync(() => void insert.run(sandboxId, archiveId))

  /** Unpacks the pending archive, if any, into the (running) sandbox. */
  const seed = (sandboxId: string) =>
    Effect.gen(function*() {
      const row = pending.get(sandboxId)
      if (row === undefined) return
      const record = archives.get(row.archive_id)
      const file = ArchiveStore.fileOf(dataDir, row.archive_id)
      if (record === undefined || record.status !== "ready" || !fs.existsSync(file)) {
        return yield* new HostFailure({ message: `archive ${row.archive_id} was deleted before the sandbox could be seeded from it` })
      }
      const dest = record.prefix === "" ? defaultDestination : `/${record.prefix}`
      yield* unpack(runtime, sandboxId, file, dest, { replace: false, strip: stripFor(record.prefix, dest) }).pipe(
        Effect.mapError((e) => new HostFailure({ message: `seeding from archive ${row.archive_id}: ${e.message}` }))
      )
      yield* Effect.sync(() => done.run(sandboxId))
    })

  return { validate, request, seed }
}
