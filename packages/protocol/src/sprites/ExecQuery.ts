/**
 * The query of `WSS /v1/sprites/{name}/exec` (reference/sprites-api.md §3.1). Repeated keys
 * (`cmd`, `env`) arrive as arrays; booleans as `"true"`/`"false"`.
 */
import * as Schema from "effect/Schema"

const Repeated = Schema.Union(Schema.String, Schema.Array(Schema.String)).pipe(
  Schema.transform(Schema.Array(Schema.String), {
    strict: true,
    decode: (v) => typeof v === "string" ? [v] : v,
    encode: (v) => v
  })
)

const Flag = Schema.Literal("true", "false", "1", "0").pipe(
  Schema.transform(Schema.Boolean, {
    strict: true,
    decode: (v) => v === "true" || v === "1",
    encode: (v) => (v ? "true" : "false")
  })
)

/** `KEY=VALUE`, split at the first `=`; an entry without one is a bad request, not a silent drop. */
const EnvEntry = Schema.String.pipe(
  Schema.filter((s) => s.indexOf("=") > 0, { message: () => "env entries must look like KEY=VALUE" })
)

export class ExecQuery extends Schema.Class<ExecQuery>("ExecQuery")({
  /** The full argv, argv[0] included. */
  cmd: Repeated.pipe(Schema.filter((argv) => argv.length > 0, { message: () => "cmd is required" })),
  /** The executable; clients send argv[0]. heyod resolves argv[0] through PATH and ignores it. */
  path: Schema.optional(Schema.String),
  dir: Schema.optional(Schema.String),
  env: Schema.optionalWith(Repeated.pipe(Schema.compose(Schema.Array(EnvEntry))), {
    default: () => []
  }),
  tty: Schema.optionalWith(Flag, { default: () => false }),
  /** Non-TTY default is false: the child gets a closed stdin (§9.6). */
  stdin: Schema.optionalWith(Flag, { default: () => false }),
  rows: Schema.optional(Schema.NumberFromString.pipe(Schema.int())),
  cols: Schema.optional(Schema.NumberFromString.pipe(Schema.int())),
  max_run_after_disconnect: Schema.optional(Schema.String)
}) {}

/** `["A=1", "B=x=y"]` -> `{ A: "1", B: "x=y" }`. */
export const envRecord = (entries: ReadonlyArray<string>): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const entry of entries) {
    const at = entry.indexOf("=")
    env[entry.slice(0, at)] = entry.slice(at + 1)
  }
  return env
}
