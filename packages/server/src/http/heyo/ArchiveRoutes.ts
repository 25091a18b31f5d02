/**
 * Heyo archive routes (reference/heyo-api.md §2.4) and `replace-mount` (§2.1).
 *
 * The upload (`PUT /sandbox-archives/:id/upload?expires&signature`) is the one route here that
 * needs no API key (Auth.ts lets it through): its URL is its credential, checked by the engine,
 * and refused with 403 as an object store would.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { HeyoArchive } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Archives } from "../../engine/Archives.js"
import type { ArchiveRecord } from "../../engine/ArchiveStore.js"
import * as Body from "../Body.js"
import { errorResponse } from "./ErrorResponse.js"

/** The path Auth.ts exempts from the API key. */
export const uploadPath = /^\/sandbox-archives\/[^/]+\/upload$/

const archiveId = Effect.map(HttpRouter.params, (params) => params["id"] ?? "")

const info = (r: ArchiveRecord) =>
  new HeyoArchive.ArchiveInfo({
    id: r.id,
    sandboxId: r.label,
    s3Key: `archives/${r.id}.tar.gz`,
    sizeBytes: r.sizeBytes,
    name: r.name,
    createdAt: r.createdAt
  })

const notFound = (e: { readonly message: string }) => Effect.succeed(errorResponse(404, e.message))

/** The address the client reached heyod at, so the upload URL works from where it is used. */
const baseUrl = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
  const host = request.headers["host"] ?? "127.0.0.1"
  return `http://${host}`
})

export const router = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/sandbox-archives/presign",
    Effect.gen(function*() {
      const presigned = yield* (yield* Archives).presign(yield* baseUrl)
      return yield* HttpServerResponse.schemaJson(HeyoArchive.PresignResponse)(new HeyoArchive.PresignResponse(presigned))
    })
  ),
  HttpRouter.put(
    "/sandbox-archives/:id/upload",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const query = new URL(request.url, "http://heyod").searchParams
      const uploaded = yield* (yield* Archives).upload(
        yield* archiveId,
        { expires: query.get("expires") ?? undefined, signature: query.get("signature") ?? undefined },
        NodeHttpServerRequest.toIncomingMessage(request)
      )
      return HttpServerResponse.unsafeJson({ size_bytes: uploaded.sizeBytes })
    }).pipe(
      Effect.catchTags({
        UploadDenied: (e) => Effect.succeed(errorResponse(403, e.message)),
        ArchiveNotFound: notFound
      })
    )
  ),
  HttpRouter.post(
    "/sandbox-archives/:id/finalize",
    Effect.gen(function*() {
      const id = yield* archiveId
      const body = yield* Body.json(HeyoArchive.FinalizeBody)
      const record = yield* (yield* Archives).finalize(id, body.sandboxId, body.name)
      return yield* HttpServerResponse.schemaJson(HeyoArchive.FinalizeResponse)(
        new HeyoArchive.FinalizeResponse({ id: record.id, sizeBytes: record.sizeBytes, createdAt: record.createdAt })
      )
    }).pipe(Effect.catchTag("ArchiveNotFound", notFound))
  ),
  HttpRouter.get(
    "/sandbox-archives",
    Effect.gen(function*() {
      const records = yield* (yield* Archives).list
      return yield* HttpServerResponse.schemaJson(HeyoArchive.ArchiveList)(
        new HeyoArchive.ArchiveList({ archives: records.map(info) })
      )
    })
  ),
  HttpRouter.get(
    "/sandbox-archives/:id",
    Effect.gen(function*() {
      const { file, record } = yield* (yield* Archives).get(yield* archiveId)
      return HttpServerResponse.stream(
        NodeStream.fromReadable(() => fs.createReadStream(file), (error) => error),
        { contentType: "application/gzip", contentLength: record.sizeBytes }
      )
    }).pipe(Effect.catchTag("ArchiveNotFound", notFound))
  ),
  HttpRouter.del(
    "/sandbox-archives/:id",
    Effect.gen(function*() {
      yield* (yield* Archives).remove(yield* archiveId)
      return HttpServerResponse.empty({ status: 204 })
    }).pipe(Effect.catchTag("ArchiveNotFound", notFound))
  ),
  HttpRouter.post(
    "/deployed-sandboxes/:id/replace-mount",
    Effect.gen(function*() {
      const id = yield* Effect.map(HttpRouter.params, (params) => params["id"] ?? "")
      const body = yield* Body.json(HeyoArchive.ReplaceMountBody)
      yield* (yield* Archives).replaceMount(id, body.archiveId, body.sandboxPath)
      return HttpServerResponse.unsafeJson({ status: "replaced", sandbox_path: body.sandboxPath })
    }).pipe(Effect.catchTag("ArchiveNotFound", notFound))
  )
)
