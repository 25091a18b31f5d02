/** `POST /sandbox/:id/exec` (reference/heyo-api.md §2.2): runs `sh -c command`. */
import * as Schema from "effect/Schema"

export class ExecRequest extends Schema.Class<ExecRequest>("ExecRequest")({
  command: Schema.String.pipe(Schema.minLength(1, { message: () => "command must not be empty" })),
  cwd: Schema.optional(Schema.String),
  env: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** Positional parameters `$1...` of the `sh -c` script. */
  args: Schema.optional(Schema.Array(Schema.String))
}) {}

/** Missing fields decode to `""` / `0`, as the cloud SDKs do. A non-zero exit is a success. */
export class ExecResponse extends Schema.Class<ExecResponse>("ExecResponse")({
  stdout: Schema.optionalWith(Schema.String, { default: () => "" }),
  stderr: Schema.optionalWith(Schema.String, { default: () => "" }),
  output: Schema.optionalWith(Schema.String, { default: () => "" }),
  exitCode: Schema.optionalWith(Schema.Int, { default: () => 0 }).pipe(Schema.fromKey("exit_code"))
}) {}
