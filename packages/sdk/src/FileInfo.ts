/**
 * One entry of `Files.list`, or what `Files.stat` says about a path. A symlink is reported as
 * itself (`type: "symlink"`), never followed.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** @since 0.1.0 */
export const FileType = Schema.Literal("file", "directory", "symlink")
/** @since 0.1.0 */
export type FileType = typeof FileType.Type

/** @since 0.1.0 */
export class FileInfo extends Schema.Class<FileInfo>("FileInfo")({
  name: Schema.String,
  /** Absolute path inside the sandbox. */
  path: Schema.String,
  type: FileType,
  size: Schema.NonNegativeInt,
  /** Permission bits, e.g. `0o644`. */
  mode: Schema.Int,
  modTime: Schema.DateFromSelf
}) {
  get isDirectory(): boolean {
    return this.type === "directory"
  }
  get isFile(): boolean {
    return this.type === "file"
  }
}
