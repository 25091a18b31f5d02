/** `POST /sandbox/:id/read-file` and `/write-file` (reference/heyo-api.md §2.3): base64 content. */
import * as Schema from "effect/Schema"

export const DefaultMountPath = "/workspace"

const FilePath = Schema.String.pipe(Schema.minLength(1, { message: () => "file_path must not be empty" }))

export class ReadFileRequest extends Schema.Class<ReadFileRequest>("ReadFileRequest")({
  filePath: Schema.propertySignature(FilePath).pipe(Schema.fromKey("file_path")),
  mountPath: Schema.optionalWith(Schema.String, { default: () => DefaultMountPath }).pipe(
    Schema.fromKey("mount_path")
  )
}) {}

export class ReadFileResponse extends Schema.Class<ReadFileResponse>("ReadFileResponse")({
  content: Schema.Uint8ArrayFromBase64,
  filePath: Schema.optional(Schema.String).pipe(Schema.fromKey("file_path")),
  contentType: Schema.optional(Schema.String).pipe(Schema.fromKey("content_type"))
}) {}

export class WriteFileRequest extends Schema.Class<WriteFileRequest>("WriteFileRequest")({
  filePath: Schema.propertySignature(FilePath).pipe(Schema.fromKey("file_path")),
  mountPath: Schema.optionalWith(Schema.String, { default: () => DefaultMountPath }).pipe(
    Schema.fromKey("mount_path")
  ),
  content: Schema.Uint8ArrayFromBase64
}) {}

/** `201 {"status":"created"}`. */
export class WriteFileResponse extends Schema.Class<WriteFileResponse>("WriteFileResponse")({
  status: Schema.String
}) {}
