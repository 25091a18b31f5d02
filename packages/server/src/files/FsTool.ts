/**
 * Runs fsTool.cjs (one filesystem operation) as a process joined into a running sandbox, and
 * reads its answer: a JSON header line, then (for reads) the file's bytes, or (for watches) one
 * JSON line per event.
 *
 * The tool runs with the sandbox's privileges, so the sandbox could tamper with it: its output
 * is untrusted. Lines are bounded, decoded with a schema, and a tool that dies without a header
 * is a server error naming its stderr, never a crash or an unbounded buffer in heyod.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import type { Process } from "../runtime/Runtime.js"
import { FsFailed } from "./FsFailed.js"

/** The script, read once: it travels as `node -e` source, so no file in the sandbox is trusted. */
export const source: string = fs.readFileSync(new URL("./fsTool.cjs", import.meta.url), "utf8")

/** argv inside the sandbox: `node` from the image's /usr (the host's, read-only). */
export const argv = (operation: Readonly<Record<string, unknown>>): ReadonlyArray<string> => [
  "node",
  "--max-old-space-size=512",
  "-e",
  source,
  "--",
  JSON.stringify(operation)
]

/** Messages stay in English whatever the sandbox's locale. */
export const env: Readonly<Record<string, string>> = { LC_ALL: "C" }

/** Header lines of ordinary operations; a recursive list may be large, but never unbounded. */
export const maxHeaderBytes = 64 * 1024 * 1024
export const maxEventBytes = 64 * 1024

const ErrorHeader = Schema.Struct({
  ok: Schema.Literal(false),
  code: Schema.String,
  message: Schema.String,
  path: Schema.String,
  unsatisfiable: Schema.optional(Schema.Boolean)
})
const decodeError = Schema.decodeUnknownOption(ErrorHeader)

/** The tool failed without a valid answer (killed, node missing, tampered output). */
export class ToolFailed extends Schema.TaggedError<ToolFailed>()("ToolFailed", {
  message: Schema.String
}) {}

const newline = 0x0a

/**
 * Splits the first line off a byte stream. The rest of the stream (bytes after the newline, then
 * whatever follows) is returned unread, so a 1 GiB read passes through untouched.
 */
export const splitLine = <E>(stream: Stream.Stream<Uint8Array, E>, maxBytes: number) =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(stream)
    const parts: Array<Uint8Array> = []
    let size = 0
    while (true) {
      const next = yield* Effect.option(pull)
      if (Option.isNone(next)) return Option.none<{ readonly line: string; readonly rest: Stream.Stream<Uint8Array, E> }>()
      const chunks = Chunk.toReadonlyArray(next.value)
      for (let i = 0; i < chunks.length; i++) {
        const chunk = chunks[i]!
        const at = chunk.indexOf(newline)
        if (at < 0) {
          size += chunk.byteLength
          if (size > maxBytes) return Option.none()
          parts.push(chunk)
          continue
        }
        parts.push(chunk.subarray(0, at))
        const line = Buffer.concat(parts).toString("utf8")
        const after = [chunk.subarray(at + 1), ...chunks.slice(i + 1)].filter((c) => c.byteLength > 0)
        const rest = Stream.concat(Stream.fromIterable(after), Stream.repeatEffectChunkOption(pull))
        return Option.some({ line, rest })
      }
    }
  }).pipe(
    // a failing pipe is an absent header, explained by the tool's exit and stderr
    Effect.catchAll(() => Effect.succeed(Option.none<{ readonly line: string; readonly rest: Stream.Stream<Uint8Array, E> }>()))
  )

/** Up to 4 KiB of the tool's stderr, for the message of a failure. */
const stderrOf = (process: Process) =>
  process.stderr.pipe(
    Stream.runFold("", (text, chunk) => (text.length < 4096 ? text + Buffer.from(chunk).toString("utf8") : text)),
    Effect.timeout("1 second"),
    Effect.orElseSucceed(() => "")
  )

/**
 * Reads the tool's header: the decoded success header and the rest of stdout, or its errno as
 * FsFailed, or ToolFailed when it said nothing usable.
 */
export const header = <A, I>(
  process: Process,
  schema: Schema.Schema<A, I>,
  maxBytes = maxHeaderBytes
): Effect.Effect<{ readonly value: A; readonly rest: Stream.Stream<Uint8Array> }, FsFailed | ToolFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const split = yield* splitLine(process.stdout, maxBytes)
    if (Option.isNone(split)) {
      const [code, stderr] = yield* Effect.all([process.exitCode, stderrOf(process)], { concurrency: 2 })
      return yield* new ToolFailed({
        message: `the file tool exited with code ${code} without an answer${stderr.trim() === "" ? "" : `: ${stderr.trim().slice(-500)}`}`
      })
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(split.value.line)
    } catch {
      return yield* new ToolFailed({ message: "the file tool's answer is not JSON" })
    }
    const failure = decodeError(parsed)
    if (Option.isSome(failure)) {
      return yield* new FsFailed({
        code: failure.value.code,
        message: failure.value.message,
        path: failure.value.path,
        unsatisfiable: failure.value.unsatisfiable === true
      })
    }
    const value = yield* Schema.decodeUnknown(schema)(parsed).pipe(
      Effect.mapError((e) => new ToolFailed({ message: `the file tool's answer does not decode: ${e.message.slice(0, 300)}` }))
    )
    return { value, rest: split.value.rest }
  })

/** The lines after the header (watch events), each bounded; the stream ends when the tool does. */
export const lines = (rest: Stream.Stream<Uint8Array>, maxBytes = maxEventBytes): Stream.Stream<string> =>
  Stream.suspend(() => {
    let parts: Array<Uint8Array> = []
    let size = 0
    // a line past the bound is dropped whole: its parts are skipped up to the next newline
    let skipping = false
    return rest.pipe(Stream.mapConcat((chunk) => {
      const out: Array<string> = []
      let from = 0
      while (from <= chunk.byteLength) {
        const at = chunk.indexOf(newline, from)
        const end = at < 0 ? chunk.byteLength : at
        if (!skipping) {
          size += end - from
          if (size > maxBytes) {
            skipping = true
            parts = []
          } else if (end > from) parts.push(chunk.subarray(from, end))
        }
        if (at < 0) break
        if (!skipping && size > 0) out.push(Buffer.concat(parts).toString("utf8"))
        parts = []
        size = 0
        skipping = false
        from = at + 1
      }
      return out
    }))
  })
