/**
 * The query of `WSS /v1/sprites/{name}/exec` (reference/sprites-api.md §3.1). Repeated keys
 * (`cmd`, `env`) arrive as arrays; booleans as `"true"`/`"false"`.
 */
import * as ParseResult from "effect/ParseResult"
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

/** `["A=1", "B=x=y"]` -> `{ A: "1", B: "x=y" }`. */
export const envRecord = (entries: ReadonlyArray<string>): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const entry of entries) {
    const at = entry.indexOf("=")
    env[entry.slice(0, at)] = entry.slice(at + 1)
  }
  return env
}

/**
 * A Go-style duration as the SDKs send it (`30s`, `10s`, `1m30s`, `250ms`, `0`); a bare number is
 * seconds. Undefined when it is not one.
 */
export const durationMillis = (text: string): number | undefined => {
  const trimmed = text.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, "µs": 0.001, ns: 0.000001 }
  const part = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/y
  let total = 0
  let at = 0
  while (at < trimmed.length) {
    part.lastIndex = at
    const match = part.exec(trimmed)
    if (match === null) return undefined
    total += Number(match[1]) * units[match[2]!]!
    at = part.lastIndex
  }
  return trimmed.length === 0 ? undefined : total
}

/** A duration query value, decoded to milliseconds. */
export const DurationParam = Schema.String.pipe(
  Schema.transformOrFail(Schema.Number, {
    strict: true,
    decode: (text, _, ast) => {
      const millis = durationMillis(text)
      return millis === undefined
        ? ParseResult.fail(new ParseResult.Type(ast, text, `"${text}" is not a duration (e.g. 30s, 1m, 0)`))
        : ParseResult.succeed(millis)
    },
    encode: (millis) => ParseResult.succeed(`${millis}ms`)
  })
)

/**
 * The query of `WSS /v1/sprites/{name}/exec/{id}` (attach). Spawn-only parameters are ignored
 * (§3.1). `offset` is heyod's extension: replay the session's output from that byte.
 */
export class AttachQuery extends Schema.Class<AttachQuery>("AttachQuery")({
  offset: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())),
  stdin: Schema.optional(Flag)
}) {}

/** `POST /v1/sprites/{name}/exec/{id}/kill` as query parameters (JS, Go) or JSON body (Python). */
export class KillQuery extends Schema.Class<KillQuery>("KillQuery")({
  signal: Schema.optional(Schema.String),
  timeout: Schema.optional(DurationParam)
}) {}

export class KillBody extends Schema.Class<KillBody>("KillBody")({
  signal: Schema.optional(Schema.String),
  /** integer seconds, as the Python SDK sends it */
  timeout: Schema.optional(Schema.Number)
}) {}

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
  /** Absent: true for a TTY, false otherwise (the child gets a closed stdin, §9.6). See `wantsStdin`. */
  stdin: Schema.optional(Flag),
  rows: Schema.optional(Schema.NumberFromString.pipe(Schema.int())),
  cols: Schema.optional(Schema.NumberFromString.pipe(Schema.int())),
  /** Unknown keys (legacy `detachable`, `cc`) are ignored: every TTY session is detachable. */
  max_run_after_disconnect: Schema.optional(DurationParam)
}) {}


/** Whether the command gets input: `stdin` when given, else only a TTY does (§3.1). */
export const wantsStdin = (q: ExecQuery): boolean => q.stdin ?? q.tty
