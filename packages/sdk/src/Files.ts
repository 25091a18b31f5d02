/**
 * Whole-file reads and writes: `POST /sandbox/:id/read-file` and `/write-file`, base64 on the
 * wire. `path` is relative to `mountPath` (default `/workspace`). The JSON body limit of the
 * Heyo cloud (1 MB) makes writes above about 768 KiB fail with `Api{status: 413}`.
 *
 * @since 0.1.0
 */
import { HeyoFiles } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HeyoClient, path as urlPath } from "./HeyoClient.js"
import type * as HeyoError from "./HeyoError.js"
import { encode, filesFrom } from "./internal/services.js"

/** @since 0.1.0 */
export interface FileOptions {
  /** The mount the path is relative to; default `/workspace`. */
  readonly mountPath?: string | undefined
}

/** @since 0.1.0 */
export interface Service {
  readonly read: (sandboxId: string, path: string, options?: FileOptions | undefined) => Effect.Effect<Uint8Array, HeyoError.HttpError>
  /** `read`, decoded as UTF-8. */
  readonly readText: (sandboxId: string, path: string, options?: FileOptions | undefined) => Effect.Effect<string, HeyoError.HttpError>
  /** A string is written as UTF-8. */
  readonly write: (
    sandboxId: string,
    path: string,
    content: string | Uint8Array,
    options?: FileOptions | undefined
  ) => Effect.Effect<void, HeyoError.HttpError>
}

/** @since 0.1.0 */
export class Files extends Context.Tag("@heyo-effect/sdk/Files")<Files, Service>() {}

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.map(HeyoClient, (client) =>
  filesFrom({
    read: (id, filePath, mountPath) =>
      encode(HeyoFiles.ReadFileRequest, new HeyoFiles.ReadFileRequest({ filePath, mountPath }, true)).pipe(
        Effect.flatMap((body) =>
          client.json(HeyoFiles.ReadFileResponse, { method: "POST", path: urlPath`/sandbox/${id}/read-file`, body })
        ),
        Effect.map((response) => response.content)
      ),
    write: (id, filePath, mountPath, content) =>
      encode(HeyoFiles.WriteFileRequest, new HeyoFiles.WriteFileRequest({ filePath, mountPath, content }, true)).pipe(
        Effect.flatMap((body) => client.execute({ method: "POST", path: urlPath`/sandbox/${id}/write-file`, body }))
      )
  }))

/** @since 0.1.0 */
export const layer: Layer.Layer<Files, never, HeyoClient> = Layer.effect(Files, make)

/** @since 0.1.0 */
export const read = (sandboxId: string, path: string, options?: FileOptions) =>
  Effect.flatMap(Files, (f) => f.read(sandboxId, path, options))

/** @since 0.1.0 */
export const readText = (sandboxId: string, path: string, options?: FileOptions) =>
  Effect.flatMap(Files, (f) => f.readText(sandboxId, path, options))

/** @since 0.1.0 */
export const write = (sandboxId: string, path: string, content: string | Uint8Array, options?: FileOptions) =>
  Effect.flatMap(Files, (f) => f.write(sandboxId, path, content, options))
