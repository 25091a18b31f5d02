/**
 * Sprites checkpoints (reference/sprites-api.md §2.7, §9.11) over the checkpoint engine.
 *
 * Create and restore answer `200 application/x-ndjson` at once and stream `info` lines while the
 * work goes on, then one `complete` or one `error` line: a failure after the headers (an unknown
 * checkpoint id on restore included) is an `error` line inside the 200 stream, as the Sprites
 * cloud does. Only an unknown sprite or a bad body is refused up front in HTTP. The work runs to
 * its end even if the client hangs up: half a restore would leave the sandbox stopped.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesCheckpoint } from "@heyo-effect/protocol"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { type CheckpointRecord, Checkpoints } from "../../engine/Checkpoints.js"
import * as Body from "../Body.js"
import * as SpriteLookup from "./SpriteLookup.js"
import { errorResponse } from "./SpritesErrorResponse.js"

const checkpointId = Effect.map(HttpRouter.params, (params) => params["id"] ?? "")

const wire = (r: CheckpointRecord) =>
  new SpritesCheckpoint.Checkpoint({
    id: SpritesCheckpoint.CheckpointId.make(r.id),
    createTime: r.createdAt,
    comment: r.comment,
    history: r.history,
    isAuto: r.isAuto,
    sourceId: r.sourceId,
    health: ""
  })

const encoder = new TextEncoder()
const line = (event: SpritesCheckpoint.StreamEvent) => encoder.encode(`${JSON.stringify(event)}\n`)
const now = () => new Date().toISOString()

const codeOf = (error: { readonly _tag: string }) => {
  switch (error._tag) {
    case "SandboxNotFound":
    case "CheckpointNotFound":
      return "not_found"
    case "Conflict":
      return "conflict"
    default:
      return "internal_error"
  }
}

/**
 * Streams `run`'s progress as `info` lines, then its outcome. The work is a daemon fiber: it
 * finishes even when nobody reads the stream any more.
 */
const progressStream = <E extends { readonly _tag: string; readonly message: string }>(
  run: (progress: (message: string) => Effect.Effect<void>) => Effect.Effect<string, E>,
  failurePrefix: string
) =>
  Stream.unwrap(Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Uint8Array | null>()
    const info = (message: string) => Queue.offer(queue, line({ type: "info", data: message, time: now() })).pipe(Effect.asVoid)
    yield* run(info).pipe(
      Effect.matchCause({
        onSuccess: (text) => line({ type: "complete", data: text, time: now() }),
        onFailure: (cause) => {
          const failure = Cause.failureOption(cause)
          if (failure._tag === "Some") {
            return line({ type: "error", error: `${failurePrefix}: ${failure.value.message}`, code: codeOf(failure.value), time: now() })
          }
          return line({ type: "error", error: `${failurePrefix}: internal error: ${Cause.pretty(cause).split("\n")[0]}`, code: "internal_error", time: now() })
        }
      }),
      Effect.flatMap((last) => Queue.offerAll(queue, [last, null])),
      Effect.forkDaemon
    )
    return Stream.fromQueue(queue).pipe(Stream.takeWhile((chunk): chunk is Uint8Array => chunk !== null))
  }))

const ndjson = (stream: Stream.Stream<Uint8Array>) =>
  HttpServerResponse.stream(stream, { contentType: "application/x-ndjson" }).pipe(
    HttpServerResponse.setHeader("Cache-Control", "no-store")
  )

const notFound = (e: { readonly message: string }) => Effect.succeed(errorResponse(404, "not_found", e.message))

export const router = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/v1/sprites/:name/checkpoint",
    Effect.gen(function*() {
      const record = yield* SpriteLookup.sprite
      const body = yield* Body.json(SpritesCheckpoint.CreateCheckpointBody)
      const checkpoints = yield* Checkpoints
      return ndjson(progressStream(
        (progress) =>
          progress("Creating checkpoint...").pipe(
            Effect.zipRight(checkpoints.create(record.id, { comment: body.comment }, progress)),
            Effect.map((created) => SpritesCheckpoint.completeText(created.id))
          ),
        "Checkpoint failed"
      ))
    })
  ),
  HttpRouter.get(
    "/v1/sprites/:name/checkpoints",
    Effect.gen(function*() {
      const record = yield* SpriteLookup.sprite
      const query = yield* SpriteLookup.query(SpritesCheckpoint.ListQuery)
      const list = yield* (yield* Checkpoints).list(record.id, query)
      return yield* HttpServerResponse.schemaJson(SpritesCheckpoint.CheckpointList)(list.map(wire))
    })
  ),
  HttpRouter.get(
    "/v1/sprites/:name/checkpoints/:id",
    Effect.gen(function*() {
      const record = yield* SpriteLookup.sprite
      const found = yield* (yield* Checkpoints).get(record.id, yield* checkpointId)
      return yield* HttpServerResponse.schemaJson(SpritesCheckpoint.Checkpoint)(wire(found))
    }).pipe(Effect.catchTag("CheckpointNotFound", notFound))
  ),
  HttpRouter.post(
    "/v1/sprites/:name/checkpoints/:id/restore",
    Effect.gen(function*() {
      const record = yield* SpriteLookup.sprite
      const id = yield* checkpointId
      const checkpoints = yield* Checkpoints
      return ndjson(progressStream(
        (progress) =>
          progress(`Restoring checkpoint ${id}...`).pipe(
            Effect.zipRight(checkpoints.restore(record.id, id, progress)),
            Effect.as(SpritesCheckpoint.restoredText(id))
          ),
        "Failed to restore checkpoint"
      ))
    })
  ),
  HttpRouter.del(
    "/v1/sprites/:name/checkpoints/:id",
    Effect.gen(function*() {
      const record = yield* SpriteLookup.sprite
      yield* (yield* Checkpoints).remove(record.id, yield* checkpointId)
      return HttpServerResponse.empty({ status: 204 })
    }).pipe(Effect.catchTag("CheckpointNotFound", notFound))
  )
)
