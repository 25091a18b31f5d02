/**
 * Sprites checkpoints (reference/sprites-api.md §2.7): the checkpoint object, the create body,
 * the list query, and the NDJSON progress lines of create and restore (§4.6 StreamMessage).
 */
import * as Schema from "effect/Schema"

/** `v0, v1, ...` for checkpoints asked for; `auto-...` for the ones the server takes itself. */
export const CheckpointId = Schema.String.pipe(Schema.brand("CheckpointId"))
export type CheckpointId = typeof CheckpointId.Type

export class Checkpoint extends Schema.Class<Checkpoint>("Checkpoint")({
  id: CheckpointId,
  createTime: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("create_time")),
  comment: Schema.optionalWith(Schema.String, { default: () => "" }),
  /** Ids of the checkpoints this one descends from, newest first. */
  history: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  isAuto: Schema.optionalWith(Schema.Boolean, { default: () => false }).pipe(Schema.fromKey("is_auto")),
  /** The checkpoint the filesystem came from when this one was taken; empty for none. */
  sourceId: Schema.optionalWith(Schema.String, { default: () => "" }).pipe(Schema.fromKey("source_id")),
  /** Empty when healthy. */
  health: Schema.optionalWith(Schema.String, { default: () => "" })
}) {}

/** `GET .../checkpoints` answers a bare array. */
export const CheckpointList = Schema.Array(Checkpoint)

/** `POST .../checkpoint`; the SDKs send `{}` without a comment. */
export class CreateCheckpointBody extends Schema.Class<CreateCheckpointBody>("CreateCheckpointBody")({
  comment: Schema.optional(Schema.String.pipe(Schema.maxLength(1024)))
}) {}

/** `?includeAuto=true` (camelCase) also lists automatic checkpoints; `history` filters by ancestor. */
export const ListQuery = Schema.Struct({
  includeAuto: Schema.optionalWith(Schema.BooleanFromString, { default: () => false }),
  history: Schema.optional(Schema.String)
})

const time = Schema.optional(Schema.String)

export const InfoEvent = Schema.Struct({ type: Schema.Literal("info"), data: Schema.String, time })
export const CompleteEvent = Schema.Struct({ type: Schema.Literal("complete"), data: Schema.String, time })
/**
 * A failure inside a 200 stream. `code` is heyod's addition (`not_found`, `conflict`,
 * `internal_error`), so a client can tell an unknown id from a server fault without parsing text.
 */
export const ErrorEvent = Schema.Struct({
  type: Schema.Literal("error"),
  error: Schema.String,
  code: Schema.optional(Schema.String),
  time
})
/** The SDKs' StreamMessage also lists these two. */
export const OutputEvent = Schema.Struct({
  type: Schema.Literal("stdout", "stderr"),
  data: Schema.String,
  time
})

export const StreamEvent = Schema.Union(InfoEvent, CompleteEvent, ErrorEvent, OutputEvent)
export type StreamEvent = typeof StreamEvent.Type

/** The new id is only in the `complete` text: `Checkpoint v8 created`. */
export const completeText = (id: string) => `Checkpoint ${id} created`

export const idFromComplete = (text: string): string | undefined => /Checkpoint\s+(\S+)\s+created/.exec(text)?.[1]

/** What a restore's `complete` line says. */
export const restoredText = (id: string) => `Restored to checkpoint ${id}`
