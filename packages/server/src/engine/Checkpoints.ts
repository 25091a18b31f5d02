/**
 * The checkpoint engine, one for both dialects: Sprites checkpoints by id (`v0, v1, ...`) and
 * Heyo's cold store / restore.
 *
 * The runtime makes the copies (runtime/Snapshots.ts); this module numbers them, keeps their
 * metadata in the state store (so they survive a restart; rows go with their sandbox through
 * ON DELETE CASCADE, the copies through Runtime.destroy), and drives a restore: stop, swap the
 * filesystem, bring the sandbox back up.
 *
 * "Current" is the checkpoint the sandbox's filesystem last came from (the last one taken or
 * restored): it cannot be deleted, as on Sprites. Automatic checkpoints (`auto-N`, taken at a
 * cold store) do not move it, are listed only on request, and only the last few are kept.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Runtime } from "../runtime/Runtime.js"
import type { SandboxRecord } from "../state/SandboxRecord.js"
import { Store } from "../state/Store.js"
import { Conflict, HostFailure, type SandboxNotFound } from "./EngineError.js"
import { Sandboxes } from "./Sandboxes.js"

/** No checkpoint with that id on that sandbox. Each dialect answers it as its own 404. */
export class CheckpointNotFound extends Schema.TaggedError<CheckpointNotFound>()("CheckpointNotFound", {
  sandboxId: Schema.String,
  checkpointId: Schema.String
}) {
  override get message() {
    return `checkpoint ${this.checkpointId} not found on sandbox ${this.sandboxId}`
  }
}

export interface CheckpointRecord {
  readonly sandboxId: string
  readonly id: string
  readonly createdAt: string
  readonly comment: string
  readonly isAuto: boolean
  /** The checkpoint the filesystem came from when this one was taken; "" for none. */
  readonly sourceId: string
  /** Ancestors, nearest first. */
  readonly history: ReadonlyArray<string>
}

/** Progress for the dialects that stream it (Sprites NDJSON `info` lines). */
export type Progress = (message: string) => Effect.Effect<void>

export interface CreateOptions {
  readonly comment?: string | undefined
  readonly auto?: boolean | undefined
}

export interface Service {
  readonly create: (
    sandboxId: string,
    options?: CreateOptions,
    progress?: Progress
  ) => Effect.Effect<CheckpointRecord, SandboxNotFound | HostFailure>
  /** Newest first. */
  readonly list: (
    sandboxId: string,
    options?: { readonly includeAuto?: boolean | undefined; readonly history?: string | undefined }
  ) => Effect.Effect<ReadonlyArray<CheckpointRecord>, SandboxNotFound>
  readonly get: (sandboxId: string, checkpointId: string) => Effect.Effect<CheckpointRecord, SandboxNotFound | CheckpointNotFound>
  /** The sandbox's current checkpoint id, if any. */
  readonly current: (sandboxId: string) => Effect.Effect<string | undefined>
  /** Replaces the filesystem with the checkpoint's and restarts the sandbox (its processes are killed). */
  readonly restore: (
    sandboxId: string,
    checkpointId: string,
    progress?: Progress
  ) => Effect.Effect<SandboxRecord, SandboxNotFound | CheckpointNotFound | HostFailure>
  /** The current checkpoint cannot be deleted (Conflict). */
  readonly remove: (
    sandboxId: string,
    checkpointId: string
  ) => Effect.Effect<void, SandboxNotFound | CheckpointNotFound | Conflict | HostFailure>
  /** Heyo `checkpoint`: stops everything, keeps the disk (and an automatic checkpoint of it). */
  readonly coldStore: (sandboxId: string) => Effect.Effect<SandboxRecord, SandboxNotFound | HostFailure>
  /** Heyo `restore`: back to `running` from a cold store (or a stop). */
  readonly wake: (sandboxId: string) => Effect.Effect<SandboxRecord, SandboxNotFound | HostFailure | Conflict>
}

export class Checkpoints extends Context.Tag("@heyo-effect/server/Checkpoints")<Checkpoints, Service>() {}

/** Automatic checkpoints kept per sandbox; older ones are deleted as new ones are taken. */
export const keptAutomatic = 5
const maxHistory = 50

const schema = `
CREATE TABLE IF NOT EXISTS checkpoints (
  sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  comment TEXT NOT NULL,
  is_auto INTEGER NOT NULL,
  source_id TEXT NOT NULL,
  history TEXT NOT NULL,
  PRIMARY KEY (sandbox_id, id)
);
CREATE TABLE IF NOT EXISTS checkpoint_counters (
  sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,
  next_version INTEGER NOT NULL DEFAULT 0,
  next_auto INTEGER NOT NULL DEFAULT 0,
  next_seq INTEGER NOT NULL DEFAULT 0,
  current TEXT
);
`

interface Row {
  readonly sandbox_id: string
  readonly id: string
  readonly seq: number
  readonly created_at: string
  readonly comment: string
  readonly is_auto: number
  readonly source_id: string
  readonly history: string
}

interface Counters {
  readonly next_version: number
  readonly next_auto: number
  readonly next_seq: number
  readonly current: string | null
}

const recordOf = (row: Row): CheckpointRecord => ({
  sandboxId: row.sandbox_id,
  id: row.id,
  createdAt: row.created_at,
  comment: row.comment,
  isAuto: row.is_auto === 1,
  sourceId: row.source_id,
  history: JSON.parse(row.history) as ReadonlyArray<string>
})

const noProgress: Progress = () => Effect.void

export const make = Effect.gen(function*() {
  const store = yield* Store
  const runtime = yield* Runtime
  const sandboxes = yield* Sandboxes
  const db = store.database
  db.exec(schema)

  const ensureCounters = db.prepare("INSERT OR IGNORE INTO checkpoint_counters (sandbox_id) VALUES (?)")
  const countersOf = db.prepare<[string], Counters>(
    "SELECT next_version, next_auto, next_seq, current FROM checkpoint_counters WHERE sandbox_id = ?"
  )
  const bumpVersion = db.prepare(
    "UPDATE checkpoint_counters SET next_version = next_version + 1, next_seq = next_seq + 1 WHERE sandbox_id = ?"
  )
  const bumpAuto = db.prepare(
    "UPDATE checkpoint_counters SET next_auto = next_auto + 1, next_seq = next_seq + 1 WHERE sandbox_id = ?"
  )
  const setCurrent = db.prepare("UPDATE checkpoint_counters SET current = ? WHERE sandbox_id = ?")
  const insert = db.prepare(
    "INSERT INTO checkpoints (sandbox_id, id, seq, created_at, comment, is_auto, source_id, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
  )
  const one = db.prepare<[string, string], Row>("SELECT * FROM checkpoints WHERE sandbox_id = ? AND id = ?")
  const all = db.prepare<[string], Row>("SELECT * FROM checkpoints WHERE sandbox_id = ? ORDER BY seq DESC")
  const deleteRow = db.prepare("DELETE FROM checkpoints WHERE sandbox_id = ? AND id = ?")
  const sandboxIds = db.prepare<[], { id: string }>("SELECT id FROM sandboxes")

  /** Reserves the next id. Counted before the copy is made, so an id is never handed out twice. */
  const allocate = db.transaction((sandboxId: string, auto: boolean) => {
    ensureCounters.run(sandboxId)
    const counters = countersOf.get(sandboxId)!
    ;(auto ? bumpAuto : bumpVersion).run(sandboxId)
    return {
      id: auto ? `auto-${counters.next_auto}` : `v${counters.next_version}`,
      seq: counters.next_seq,
      current: counters.current
    }
  })

  const find = (sandboxId: string, checkpointId: string) =>
    Effect.suspend(() => {
      const row = one.get(sandboxId, checkpointId)
      return row === undefined
        ? Effect.fail(new CheckpointNotFound({ sandboxId, checkpointId }))
        : Effect.succeed(recordOf(row))
    })

  const hostFailure = (e: { readonly message: string }) => new HostFailure({ message: e.message })

  const current = (sandboxId: string) => Effect.sync(() => countersOf.get(sandboxId)?.current ?? undefined)

  const dropOldAutomatic = (sandboxId: string) =>
    Effect.gen(function*() {
      const keep = yield* current(sandboxId)
      const autos = all.all(sandboxId).filter((row) => row.is_auto === 1 && row.id !== keep)
      for (const row of autos.slice(keptAutomatic)) {
        yield* runtime.checkpoints.remove(sandboxId, row.id).pipe(Effect.mapError(hostFailure))
        yield* Effect.sync(() => deleteRow.run(sandboxId, row.id))
      }
    })

  const create = Effect.fn("Checkpoints.create")(
    function*(sandboxId: string, options?: CreateOptions, progress: Progress = noProgress) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      yield* sandboxes.get(sandboxId)
      return yield* sandboxes.exclusive(
        sandboxId,
        Effect.gen(function*() {
          yield* sandboxes.get(sandboxId)
          const auto = options?.auto === true
          const slot = yield* Effect.sync(() => allocate(sandboxId, auto))
          yield* progress(`Saving filesystem state as ${slot.id}...`)
          const timing = yield* runtime.checkpoints.take(sandboxId, slot.id).pipe(Effect.mapError(hostFailure))
          yield* progress(
            `Filesystem saved in ${timing.totalMillis} ms` +
              (timing.frozenMillis > 0 ? ` (processes paused for ${timing.frozenMillis} ms)` : "")
          )
          const parent = slot.current === null ? undefined : one.get(sandboxId, slot.current)
          const history = parent === undefined
            ? []
            : [parent.id, ...(JSON.parse(parent.history) as Array<string>)].slice(0, maxHistory)
          const record: CheckpointRecord = {
            sandboxId,
            id: slot.id,
            createdAt: new Date().toISOString(),
            comment: options?.comment ?? "",
            isAuto: auto,
            sourceId: slot.current ?? "",
            history
          }
          yield* Effect.sync(() =>
            db.transaction(() => {
              insert.run(
                sandboxId,
                record.id,
                slot.seq,
                record.createdAt,
                record.comment,
                auto ? 1 : 0,
                record.sourceId,
                JSON.stringify(history)
              )
              if (!auto) setCurrent.run(record.id, sandboxId)
            })()
          )
          if (auto) yield* dropOldAutomatic(sandboxId)
          return record
        })
      )
    },
    // Once started, a checkpoint is finished even if the client goes away.
    Effect.uninterruptible
  )

  const list = Effect.fn("Checkpoints.list")(function*(
    sandboxId: string,
    options?: { readonly includeAuto?: boolean | undefined; readonly history?: string | undefined }
  ) {
    yield* sandboxes.get(sandboxId)
    const rows = all.all(sandboxId).map(recordOf)
    return rows.filter((r) =>
      (options?.includeAuto === true || !r.isAuto) &&
      (options?.history === undefined || r.id === options.history || r.history.includes(options.history))
    )
  })

  const get = Effect.fn("Checkpoints.get")(function*(sandboxId: string, checkpointId: string) {
    yield* sandboxes.get(sandboxId)
    return yield* find(sandboxId, checkpointId)
  })

  const restore = Effect.fn("Checkpoints.restore")(
    function*(sandboxId: string, checkpointId: string, progress: Progress = noProgress) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      yield* sandboxes.get(sandboxId)
      yield* find(sandboxId, checkpointId)
      yield* progress("Stopping sandbox...")
      const record = yield* sandboxes.replaceFilesystem(
        sandboxId,
        Effect.gen(function*() {
          yield* progress(`Restoring filesystem from ${checkpointId}...`)
          // checked again under the sandbox's lock: a delete may have won the race
          yield* find(sandboxId, checkpointId)
          yield* runtime.checkpoints.restore(sandboxId, checkpointId).pipe(Effect.mapError(hostFailure))
          yield* Effect.sync(() => setCurrent.run(checkpointId, sandboxId))
          yield* progress("Starting sandbox...")
        })
      )
      if (record.status !== "running") {
        return yield* new HostFailure({
          message: `the filesystem was restored but the sandbox did not start: ${record.errorMessage ?? record.status}`
        })
      }
      return record
    },
    Effect.uninterruptible
  )

  const remove = Effect.fn("Checkpoints.remove")(function*(sandboxId: string, checkpointId: string) {
    yield* sandboxes.get(sandboxId)
    yield* sandboxes.exclusive(
      sandboxId,
      Effect.gen(function*() {
        yield* find(sandboxId, checkpointId)
        if ((yield* current(sandboxId)) === checkpointId) {
          return yield* new Conflict({
            message: `checkpoint ${checkpointId} is the sandbox's current checkpoint and cannot be deleted`
          })
        }
        yield* runtime.checkpoints.remove(sandboxId, checkpointId).pipe(Effect.mapError(hostFailure))
        yield* Effect.sync(() => deleteRow.run(sandboxId, checkpointId))
      })
    )
  })

  const coldStore = Effect.fn("Checkpoints.coldStore")(function*(sandboxId: string) {
    yield* sandboxes.coldStore(sandboxId)
    yield* create(sandboxId, { auto: true, comment: "cold store" })
    return yield* sandboxes.get(sandboxId)
  }, Effect.uninterruptible)

  const wake = Effect.fn("Checkpoints.wake")(function*(sandboxId: string) {
    return yield* sandboxes.start(sandboxId)
  })

  // Copies no row knows of (a crash between the copy and its row) are deleted at start-up.
  yield* Effect.forEach(sandboxIds.all(), ({ id }) =>
    Effect.gen(function*() {
      const known = new Set(all.all(id).map((row) => row.id))
      for (const name of yield* runtime.checkpoints.list(id)) {
        if (!known.has(name)) {
          yield* runtime.checkpoints.remove(id, name).pipe(
            Effect.catchAll((e) => Effect.logWarning(`removing stray checkpoint ${name} of ${id}: ${e.message}`))
          )
        }
      }
    }), { discard: true })

  return Checkpoints.of({ create, list, get, current, restore, remove, coldStore, wake })
})

export const layer: Layer.Layer<Checkpoints, never, Store | Runtime | Sandboxes> = Layer.effect(Checkpoints, make)
