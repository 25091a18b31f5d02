/**
 * Checkpoints for `Testing.layer`: copies of a fake sandbox's in-memory files, numbered `v0, v1,
 * ...` and streamed as the server's NDJSON events would be, so `Checkpoint.fromBackend` runs the
 * very same logic above the wire as against heyod.
 */
import { SpritesCheckpoint } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Checkpoint from "../Checkpoint.js"
import * as HeyoError from "../HeyoError.js"

/** What the fake keeps of a sandbox that checkpoints touch. */
export interface Target {
  readonly files: Map<string, Uint8Array>
  status: string
}

interface Saved {
  readonly wire: SpritesCheckpoint.Checkpoint
  readonly files: ReadonlyMap<string, Uint8Array>
}

interface PerSandbox {
  readonly saved: Map<string, Saved>
  next: number
  current: string | undefined
}

export const makeMemoryCheckpoint = (
  lookup: (id: string, call: string) => Effect.Effect<Target, HeyoError.NotFound>,
  now: Effect.Effect<string>
): Checkpoint.Service => {
  const all = new Map<string, PerSandbox>()
  const of = (id: string) => {
    let entry = all.get(id)
    if (entry === undefined) {
      entry = { saved: new Map(), next: 0, current: undefined }
      all.set(id, entry)
    }
    return entry
  }
  const line = (type: "info" | "complete", data: string): SpritesCheckpoint.StreamEvent => ({ type, data })
  const errorLine = (error: string, code: string): SpritesCheckpoint.StreamEvent => ({ type: "error", error, code })

  const find = (id: string, ck: string, call: string) =>
    Effect.flatMap(lookup(id, call), () => {
      const saved = of(id).saved.get(ck)
      return saved === undefined
        ? Effect.fail(new HeyoError.NotFound({ message: `checkpoint ${ck} not found on sandbox ${id} (calling ${call})` }))
        : Effect.succeed(saved)
    })

  return Checkpoint.fromBackend({
    require: Effect.void,
    create: (id, comment) =>
      Effect.gen(function*() {
        const target = yield* lookup(id, `POST /v1/sprites/${id}/checkpoint`)
        const entry = of(id)
        const ckId = `v${entry.next++}`
        const parent = entry.current === undefined ? undefined : entry.saved.get(entry.current)
        const wire = new SpritesCheckpoint.Checkpoint({
          id: SpritesCheckpoint.CheckpointId.make(ckId),
          createTime: yield* now,
          comment: comment ?? "",
          history: parent === undefined ? [] : [parent.wire.id, ...parent.wire.history],
          isAuto: false,
          sourceId: entry.current ?? "",
          health: ""
        })
        // Copies of the byte arrays too: a later write must not reach into a checkpoint.
        entry.saved.set(ckId, { wire, files: new Map([...target.files].map(([p, b]) => [p, b.slice()])) })
        entry.current = ckId
        return Stream.make(line("info", "Creating checkpoint..."), line("complete", SpritesCheckpoint.completeText(ckId)))
      }).pipe(Stream.unwrap),
    restore: (id, ck) =>
      Effect.gen(function*() {
        const target = yield* lookup(id, `POST /v1/sprites/${id}/checkpoints/${ck}/restore`)
        const saved = of(id).saved.get(ck)
        // As on the wire: an unknown checkpoint is an error line in a 200 stream.
        if (saved === undefined) {
          return Stream.make(errorLine(`Failed to restore checkpoint: checkpoint ${ck} not found`, "not_found"))
        }
        target.files.clear()
        for (const [p, b] of saved.files) target.files.set(p, b.slice())
        target.status = "running"
        of(id).current = ck
        return Stream.make(line("info", `Restoring checkpoint ${ck}...`), line("complete", SpritesCheckpoint.restoredText(ck)))
      }).pipe(Stream.unwrap),
    list: (id) =>
      Effect.map(
        lookup(id, `GET /v1/sprites/${id}/checkpoints`),
        () => [...of(id).saved.values()].map((s) => s.wire).reverse()
      ),
    get: (id, ck) => Effect.map(find(id, ck, `GET /v1/sprites/${id}/checkpoints/${ck}`), (s) => s.wire),
    delete: (id, ck) =>
      Effect.gen(function*() {
        const call = `DELETE /v1/sprites/${id}/checkpoints/${ck}`
        yield* find(id, ck, call)
        if (of(id).current === ck) {
          return yield* new HeyoError.Api({ status: 409, message: `checkpoint ${ck} is the current checkpoint (calling ${call})` })
        }
        of(id).saved.delete(ck)
      })
  })
}
