/**
 * A filesystem operation the sandbox's kernel refused, with the errno code of the Sprites wire
 * (reference/sprites-api.md §4.8). Routes answer it as `{error, code, path}`.
 */
import type { SpritesFs } from "@heyo-effect/protocol"
import * as Schema from "effect/Schema"

export class FsFailed extends Schema.TaggedError<FsFailed>()("FsFailed", {
  code: Schema.String,
  message: Schema.String,
  path: Schema.String,
  /** A byte range beyond the end of the file (HTTP 416 rather than 400). */
  unsatisfiable: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {
  get errno(): SpritesFs.ErrorCode {
    return (codes as ReadonlySet<string>).has(this.code) ? (this.code as SpritesFs.ErrorCode) : "UNKNOWN"
  }
}

const codes: ReadonlySet<SpritesFs.ErrorCode> = new Set<SpritesFs.ErrorCode>([
  "ENOENT",
  "EEXIST",
  "ENOTDIR",
  "EISDIR",
  "EACCES",
  "EPERM",
  "ENOTEMPTY",
  "EINVAL",
  "EIO",
  "UNKNOWN"
])

/** The HTTP status of each code: what the SDKs key off (404 for not found). */
export const statusOf = (error: FsFailed): number => {
  if (error.unsatisfiable) return 416
  switch (error.errno) {
    case "ENOENT":
      return 404
    case "EACCES":
    case "EPERM":
      return 403
    case "EEXIST":
    case "ENOTEMPTY":
      return 409
    case "ENOTDIR":
    case "EISDIR":
    case "EINVAL":
      return 400
    case "EIO":
    case "UNKNOWN":
      return 500
  }
}
