/**
 * A change seen by `Files.watch`: what happened (`kind`), to which sandbox path, and when.
 * `size` comes with files that still exist, `isDir` with anything that still exists.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** @since 0.1.0 */
export const Kind = Schema.Literal("create", "write", "remove", "rename", "chmod")
/** @since 0.1.0 */
export type Kind = typeof Kind.Type

/** @since 0.1.0 */
export class FsEvent extends Schema.Class<FsEvent>("FsEvent")({
  kind: Kind,
  /** Absolute path inside the sandbox. */
  path: Schema.String,
  timestamp: Schema.DateFromSelf,
  size: Schema.optional(Schema.NonNegativeInt),
  isDir: Schema.optional(Schema.Boolean)
}) {}
