/**
 * Checkpoints of a sandbox's filesystem: take one while it runs, list them, restore one (the
 * sandbox restarts on the checkpoint's files; its processes are killed), delete them.
 *
 * Speaks the Sprites checkpoint routes (reference/sprites-api.md §2.7) addressed by sandbox id,
 * which heyod serves beside the Heyo routes (the `checkpoints` extension in
 * `GET /capabilities`); a server without them fails with `Unsupported`. Heyo's own cold store is
 * `Sandbox.coldStore` / `Sandbox.restore`.
 *
 * Create and restore stream progress as NDJSON. `createStream` / `restoreStream` give those
 * events; `create` / `restore` wait for the end. A failure the server reports inside the stream
 * is `NotFound` for an unknown sandbox or checkpoint, else `CheckpointFailed`.
 *
 * @since 0.1.0
 */
import { SpritesCheckpoint } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { HeyoClient, path } from "./HeyoClient.js"
import * as HeyoError from "./HeyoError.js"

/** The server-side extension these calls need. @since 0.1.0 */
export const FEATURE = "checkpoints"

/** @since 0.1.0 */
export const CheckpointId = SpritesCheckpoint.CheckpointId
/** @since 0.1.0 */
export type CheckpointId = SpritesCheckpoint.CheckpointId

/** @since 0.1.0 */
export class CheckpointInfo extends Schema.Class<CheckpointInfo>("CheckpointInfo")({
  id: CheckpointId,
  createTime: Schema.DateFromSelf,
  comment: Schema.String,
  /** Taken by the server itself (e.g. at a cold store), not asked for. */
  isAuto: Schema.Boolean,
  /** The checkpoint the filesystem came from when this one was taken; "" for none. */
  sourceId: Schema.String,
  /** Ancestors, nearest first. */
  history: Schema.Array(Schema.String)
}) {}

/**
 * The server reported a failure inside a checkpoint or restore stream (other than an unknown
 * sandbox or checkpoint, which are `NotFound`).
 */
export class CheckpointFailed extends Schema.TaggedError<CheckpointFailed>()("CheckpointFailed", {
  sandboxId: Schema.String,
  checkpointId: Schema.optional(Schema.String),
  message: Schema.String
}) {
  readonly [HeyoError.TypeId]: HeyoError.TypeId = HeyoError.TypeId
}

/** @since 0.1.0 */
export type CheckpointError = HeyoError.HttpError | HeyoError.Unsupported | CheckpointFailed

/**
 * Progress of a create or restore, in the order the server sent it. A stream ends with exactly
 * one `Complete` (its failure is the stream's failure instead).
 *
 * @since 0.1.0
 */
export type CheckpointEvent = Data.TaggedEnum<{
  readonly Info: { readonly message: string; readonly time: Option.Option<Date> }
  readonly Output: { readonly stream: "stdout" | "stderr"; readonly data: string }
  /** `checkpointId`: the new checkpoint on create, the restored one on restore. */
  readonly Complete: { readonly message: string; readonly checkpointId: Option.Option<string> }
}>

/** @since 0.1.0 */
export const { $is, $match, Complete, Info, Output } = Data.taggedEnum<CheckpointEvent>()

/** @since 0.1.0 */
export interface CreateOptions {
  readonly comment?: string | undefined
}

/** @since 0.1.0 */
export interface ListOptions {
  /** Also list the automatic checkpoints (hidden by default). */
  readonly includeAuto?: boolean | undefined
}

/** @since 0.1.0 */
export interface Service {
  /** Takes a checkpoint and returns it once it exists. */
  readonly create: (sandboxId: string, options?: CreateOptions) => Effect.Effect<CheckpointInfo, CheckpointError>
  /** Takes a checkpoint, streaming the server's progress; the last event is `Complete`. */
  readonly createStream: (sandboxId: string, options?: CreateOptions) => Stream.Stream<CheckpointEvent, CheckpointError>
  /** Newest first. */
  readonly list: (sandboxId: string, options?: ListOptions) => Effect.Effect<ReadonlyArray<CheckpointInfo>, CheckpointError>
  readonly get: (sandboxId: string, checkpointId: string) => Effect.Effect<CheckpointInfo, CheckpointError>
  /** Restores the sandbox's filesystem to the checkpoint; the sandbox restarts (its processes die). */
  readonly restore: (sandboxId: string, checkpointId: string) => Effect.Effect<void, CheckpointError>
  readonly restoreStream: (sandboxId: string, checkpointId: string) => Stream.Stream<CheckpointEvent, CheckpointError>
  /** The sandbox's current checkpoint (the last one taken or restored) cannot be deleted. */
  readonly delete: (sandboxId: string, checkpointId: string) => Effect.Effect<void, CheckpointError>
}

/** @since 0.1.0 */
export class Checkpoint extends Context.Tag("@heyo-effect/sdk/Checkpoint")<Checkpoint, Service>() {}

/** What a transport provides: the wire calls, before events are decoded and failures typed. */
export interface Backend {
  /** Fails with Unsupported when the server has no checkpoint routes. */
  readonly require: Effect.Effect<void, HeyoError.HttpError | HeyoError.Unsupported>
  readonly create: (sandboxId: string, comment: string | undefined) => Stream.Stream<SpritesCheckpoint.StreamEvent, HeyoError.HttpError>
  readonly restore: (sandboxId: string, checkpointId: string) => Stream.Stream<SpritesCheckpoint.StreamEvent, HeyoError.HttpError>
  readonly list: (sandboxId: string, includeAuto: boolean) => Effect.Effect<ReadonlyArray<SpritesCheckpoint.Checkpoint>, HeyoError.HttpError>
  readonly get: (sandboxId: string, checkpointId: string) => Effect.Effect<SpritesCheckpoint.Checkpoint, HeyoError.HttpError>
  readonly delete: (sandboxId: string, checkpointId: string) => Effect.Effect<void, HeyoError.HttpError>
}

const infoOf = (wire: SpritesCheckpoint.Checkpoint) => {
  const time = new Date(wire.createTime)
  return new CheckpointInfo({
    id: wire.id,
    createTime: Number.isNaN(time.getTime()) ? new Date(0) : time,
    comment: wire.comment,
    isAuto: wire.isAuto,
    sourceId: wire.sourceId,
    history: wire.history
  })
}

const parseTime = (time: string | undefined) => {
  if (time === undefined) return Option.none()
  const date = new Date(time)
  return Number.isNaN(date.getTime()) ? Option.none() : Option.some(date)
}

/** Builds the service from a transport; the HTTP layer and `Testing` share everything above the wire. */
export const fromBackend = (backend: Backend): Service => {
  const events = (
    sandboxId: string,
    checkpointId: string | undefined,
    wire: Stream.Stream<SpritesCheckpoint.StreamEvent, HeyoError.HttpError>,
    call: string
  ): Stream.Stream<CheckpointEvent, CheckpointError> =>
    // per run: the same Stream value may be run more than once
    Stream.suspend(() => {
      let completed = false
      return Stream.unwrap(Effect.as(backend.require, wire)).pipe(
        Stream.mapEffect((event): Effect.Effect<CheckpointEvent, CheckpointError> => {
          switch (event.type) {
            case "info":
              return Effect.succeed(Info({ message: event.data, time: parseTime(event.time) }))
            case "stdout":
            case "stderr":
              return Effect.succeed(Output({ stream: event.type, data: event.data }))
            case "complete":
              completed = true
              return Effect.succeed(Complete({
                message: event.data,
                checkpointId: Option.fromNullable(checkpointId ?? SpritesCheckpoint.idFromComplete(event.data))
              }))
            case "error": {
              const message = `${event.error} (calling ${call})`
              const notFound = event.code === "not_found" || (event.code === undefined && /not found/i.test(event.error))
              return Effect.fail(
                notFound
                  ? new HeyoError.NotFound({ message })
                  : new CheckpointFailed({ sandboxId, checkpointId, message })
              )
            }
          }
        }),
        // The server sends nothing after the outcome.
        Stream.takeUntil((event) => event._tag === "Complete"),
        Stream.concat(Stream.suspend(() =>
          completed
            ? Stream.empty
            : Stream.fail(new CheckpointFailed({ sandboxId, checkpointId, message: `the stream ended without an outcome (calling ${call})` }))
        ))
      )
    })

  const createStream = (sandboxId: string, options?: CreateOptions) =>
    events(sandboxId, undefined, backend.create(sandboxId, options?.comment), `POST /v1/sprites/${sandboxId}/checkpoint`).pipe(
      Stream.withSpan("Checkpoint.createStream", { attributes: { "sandbox.id": sandboxId }, captureStackTrace: false })
    )

  const restoreStream = (sandboxId: string, checkpointId: string) =>
    events(
      sandboxId,
      checkpointId,
      backend.restore(sandboxId, checkpointId),
      `POST /v1/sprites/${sandboxId}/checkpoints/${checkpointId}/restore`
    ).pipe(
      Stream.withSpan("Checkpoint.restoreStream", {
        attributes: { "sandbox.id": sandboxId, "checkpoint.id": checkpointId },
        captureStackTrace: false
      })
    )

  const get = Effect.fn("Checkpoint.get")(function*(sandboxId: string, checkpointId: string) {
    yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
    yield* backend.require
    return infoOf(yield* backend.get(sandboxId, checkpointId))
  })

  const create = Effect.fn("Checkpoint.create")(function*(sandboxId: string, options?: CreateOptions) {
    yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
    const last = yield* Stream.runLast(createStream(sandboxId, options))
    const id = Option.flatMap(last, (e) => (e._tag === "Complete" ? e.checkpointId : Option.none()))
    if (Option.isNone(id)) {
      return yield* new CheckpointFailed({ sandboxId, message: "the server did not say which checkpoint it created" })
    }
    return yield* get(sandboxId, id.value)
  })

  return {
    create,
    createStream,
    list: Effect.fn("Checkpoint.list")(function*(sandboxId: string, options?: ListOptions) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      yield* backend.require
      return (yield* backend.list(sandboxId, options?.includeAuto === true)).map(infoOf)
    }),
    get,
    restore: Effect.fn("Checkpoint.restore")(function*(sandboxId: string, checkpointId: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      yield* Stream.runDrain(restoreStream(sandboxId, checkpointId))
    }),
    restoreStream,
    delete: Effect.fn("Checkpoint.delete")(function*(sandboxId: string, checkpointId: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
      yield* backend.require
      yield* backend.delete(sandboxId, checkpointId)
    })
  }
}

const decodeEvent = Schema.decodeUnknown(Schema.parseJson(SpritesCheckpoint.StreamEvent))

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.gen(function*() {
  const client = yield* HeyoClient
  const base = (id: string) => path`/v1/sprites/${id}`

  // Lines that do not decode (a keep-alive, a type from a newer server) are skipped, as the
  // Sprites SDKs do; only the outcome lines matter and those must decode.
  const ndjson = (method: "POST", route: string, body: unknown) =>
    client.stream({ method, path: route, body }).pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.filter((line) => line.trim() !== ""),
      Stream.mapEffect((line) => decodeEvent(line).pipe(Effect.option)),
      Stream.filterMap((event) => event)
    )

  return fromBackend({
    require: client.requireFeature(FEATURE),
    create: (id, comment) => ndjson("POST", `${base(id)}/checkpoint`, comment === undefined ? {} : { comment }),
    restore: (id, ck) => ndjson("POST", `${base(id)}${path`/checkpoints/${ck}/restore`}`, undefined),
    list: (id, includeAuto) =>
      client.json(SpritesCheckpoint.CheckpointList, {
        method: "GET",
        path: `${base(id)}/checkpoints`,
        query: { includeAuto: includeAuto ? "true" : undefined }
      }),
    get: (id, ck) => client.json(SpritesCheckpoint.Checkpoint, { method: "GET", path: `${base(id)}${path`/checkpoints/${ck}`}` }),
    delete: (id, ck) => client.execute({ method: "DELETE", path: `${base(id)}${path`/checkpoints/${ck}`}` })
  })
})

/** @since 0.1.0 */
export const layer: Layer.Layer<Checkpoint, never, HeyoClient> = Layer.effect(Checkpoint, make)

/** @since 0.1.0 */
export const create = (sandboxId: string, options?: CreateOptions) => Effect.flatMap(Checkpoint, (c) => c.create(sandboxId, options))
/** @since 0.1.0 */
export const createStream = (sandboxId: string, options?: CreateOptions) =>
  Stream.unwrap(Effect.map(Checkpoint, (c) => c.createStream(sandboxId, options)))
/** @since 0.1.0 */
export const list = (sandboxId: string, options?: ListOptions) => Effect.flatMap(Checkpoint, (c) => c.list(sandboxId, options))
/** @since 0.1.0 */
export const get = (sandboxId: string, checkpointId: string) => Effect.flatMap(Checkpoint, (c) => c.get(sandboxId, checkpointId))
/** @since 0.1.0 */
export const restore = (sandboxId: string, checkpointId: string) =>
  Effect.flatMap(Checkpoint, (c) => c.restore(sandboxId, checkpointId))
/** @since 0.1.0 */
export const restoreStream = (sandboxId: string, checkpointId: string) =>
  Stream.unwrap(Effect.map(Checkpoint, (c) => c.restoreStream(sandboxId, checkpointId)))
/** `delete` is a reserved word as a binding: the accessor is `remove`. @since 0.1.0 */
export const remove = (sandboxId: string, checkpointId: string) =>
  Effect.flatMap(Checkpoint, (c) => c.delete(sandboxId, checkpointId))
