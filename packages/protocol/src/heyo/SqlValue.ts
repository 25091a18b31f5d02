/**
 * SqlValue (reference/heyo-api.md §3): an untagged JSON scalar, `null | bool | i64 | f64 | text`,
 * and the lossless JSON codec it needs. Plain `JSON.parse` rounds integers past 2^53 and reads
 * `1.0` as the integer 1; this codec keeps both apart:
 *
 * - on the wire an integer is written with digits only (`9223372036854775807`), a float always
 *   with a decimal point or an exponent (`1.0`, `0.1`, `1e+300`);
 * - in TypeScript an integer is a `bigint` and a float a `number`; booleans, strings and null
 *   are themselves. NaN and the infinities have no JSON form and are refused.
 *
 * `SqlJson.parse` / `SqlJson.stringify` read and write whole bodies in this form: an integer
 * literal within 2^53 becomes a `number`, a larger one a `bigint`, a float literal with an
 * integral value (`1.0`) a `Float`, every other float a `number`. The `SqlValue` schema turns
 * that form into the model and back, so the rest of a body (counts, ids) stays plain JSON.
 *
 * Read-back table (what a value bound as an argument reads back as from SQLite):
 *
 * | sent (TypeScript)        | wire          | stored as | read back                 |
 * |--------------------------|---------------|-----------|---------------------------|
 * | `null`                   | `null`        | NULL      | `null`                    |
 * | `true` / `false`         | `true`/`false`| INTEGER   | `1n` / `0n` (no boolean)  |
 * | `42n`, `2n ** 63n - 1n`  | `42`          | INTEGER   | the same `bigint`         |
 * | `1.0` (number), `0.1`    | `1.0`, `0.1`  | REAL      | the same `number`         |
 * | `"text"`                 | `"text"`      | TEXT      | the same `string`         |
 * | a BLOB made in SQL       | (base64 text) | BLOB      | its bytes as base64 text  |
 *
 * A column's type affinity still applies: a REAL `1.0` inserted into an `INTEGER` column is
 * stored (and read back) as the integer `1n`, and `"12"` into a `NUMERIC` column as `12n`.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/** A float whose value is integral (`1.0`): kept apart from the integer `1` in the JSON form. */
export class Float {
  constructor(readonly value: number) {}
}

export const I64_MIN = -(2n ** 63n)
export const I64_MAX = 2n ** 63n - 1n

/** A value in the lossless JSON form. */
export type Json =
  | null
  | boolean
  | string
  | number
  | bigint
  | Float
  | ReadonlyArray<Json>
  | { readonly [key: string]: Json | undefined }

const numberPattern = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y
const whitespace = /[ \t\n\r]*/y
const stringPattern = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y

/** Parses JSON text, keeping integers exact and integral floats marked (see the module doc). */
export const parse = (text: string): Json => {
  let pos = 0
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${pos} of the JSON text`)
  }
  const skip = () => {
    whitespace.lastIndex = pos
    whitespace.exec(text)
    pos = whitespace.lastIndex
  }
  const value = (depth: number): Json => {
    if (depth > 512) fail("nesting too deep")
    skip()
    const c = text[pos]
    if (c === "{") {
      pos++
      const out: Record<string, Json> = {}
      skip()
      if (text[pos] === "}") {
        pos++
        return out
      }
      for (;;) {
        skip()
        if (text[pos] !== "\"") fail("expected a property name")
        const key = string()
        skip()
        if (text[pos] !== ":") fail("expected ':'")
        pos++
        // Own data property even for "__proto__", so a body can never reach a prototype.
        Object.defineProperty(out, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true })
        skip()
        if (text[pos] === ",") {
          pos++
          continue
        }
        if (text[pos] === "}") {
          pos++
          return out
        }
        fail("expected ',' or '}'")
      }
    }
    if (c === "[") {
      pos++
      const out: Array<Json> = []
      skip()
      if (text[pos] === "]") {
        pos++
        return out
      }
      for (;;) {
        out.push(value(depth + 1))
        skip()
        if (text[pos] === ",") {
          pos++
          continue
        }
        if (text[pos] === "]") {
          pos++
          return out
        }
        fail("expected ',' or ']'")
      }
    }
    if (c === "\"") return string()
    if (text.startsWith("true", pos)) {
      pos += 4
      return true
    }
    if (text.startsWith("false", pos)) {
      pos += 5
      return false
    }
    if (text.startsWith("null", pos)) {
      pos += 4
      return null
    }
    numberPattern.lastIndex = pos
    const match = numberPattern.exec(text)
    if (match === null) return fail("unexpected character")
    pos = numberPattern.lastIndex
    const literal = match[0]
    if (match[1] === undefined && match[2] === undefined) {
      const n = Number(literal)
      return Number.isSafeInteger(n) ? n : BigInt(literal)
    }
    const n = Number(literal)
    return Number.isInteger(n) || !Number.isFinite(n) ? new Float(n) : n
  }
  const string = (): string => {
    stringPattern.lastIndex = pos
    const match = stringPattern.exec(text)
    if (match === null) return fail("invalid string")
    pos = stringPattern.lastIndex
    return JSON.parse(match[0]) as string
  }
  const result = value(0)
  skip()
  if (pos !== text.length) fail("unexpected text after the JSON value")
  return result
}

const floatLiteral = (n: number): string => {
  if (!Number.isFinite(n)) throw new RangeError(`${n} has no JSON form`)
  if (Object.is(n, -0)) return "-0.0"
  const s = String(n)
  return /[.eE]/.test(s) ? s : `${s}.0`
}

/**
 * Writes the lossless JSON form: `bigint` as digits, `Float` with a decimal point, `undefined`
 * properties left out. Fails (RangeError) on NaN and the infinities, as `JSON.stringify` should.
 */
export const stringify = (value: unknown): string => {
  const parts: Array<string> = []
  const write = (v: unknown): void => {
    if (v === null) parts.push("null")
    else if (typeof v === "boolean") parts.push(v ? "true" : "false")
    else if (typeof v === "string") parts.push(JSON.stringify(v))
    else if (typeof v === "bigint") parts.push(v.toString())
    else if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new RangeError(`${v} has no JSON form`)
      parts.push(JSON.stringify(v))
    } else if (v instanceof Float) parts.push(floatLiteral(v.value))
    else if (Array.isArray(v)) {
      parts.push("[")
      v.forEach((item, i) => {
        if (i > 0) parts.push(",")
        write(item === undefined ? null : item)
      })
      parts.push("]")
    } else if (typeof v === "object") {
      const json = (v as { toJSON?: () => unknown }).toJSON
      if (typeof json === "function") return write(json.call(v))
      parts.push("{")
      let first = true
      for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
        if (item === undefined) continue
        if (!first) parts.push(",")
        first = false
        parts.push(JSON.stringify(key), ":")
        write(item)
      }
      parts.push("}")
    } else throw new TypeError(`${typeof v} has no JSON form`)
  }
  write(value)
  return parts.join("")
}

/** The model: an integer is a `bigint` (i64), a float a finite `number`. */
export type SqlValue = null | boolean | bigint | number | string

/** One value of the JSON form, as a body decoded by `parse` holds it. */
export const SqlValueEncoded = Schema.Union(
  Schema.Null,
  Schema.Boolean,
  Schema.String,
  Schema.Number,
  Schema.BigIntFromSelf,
  Schema.instanceOf(Float)
)

const inI64 = (n: bigint) => n >= I64_MIN && n <= I64_MAX

/** The model side: any SqlValue that has a wire form (an i64 `bigint`, a finite `number`). */
export const SqlValueType = Schema.Union(
  Schema.Null,
  Schema.Boolean,
  Schema.String,
  Schema.BigIntFromSelf.pipe(Schema.filter(inI64, { message: () => "integer outside the 64-bit range" })),
  Schema.Number.pipe(Schema.filter(Number.isFinite, { message: () => "NaN and infinities have no SQL value" }))
)

/**
 * A SqlValue between the model and the lossless JSON form. Decoding: an integer literal (a
 * `number` or `bigint` from `parse`) is an i64, a float literal a `number`. Encoding: a `bigint`
 * is written with digits, a `number` with a decimal point.
 */
export const SqlValue: Schema.Schema<SqlValue, null | boolean | string | number | bigint | Float> = Schema
  .transformOrFail(SqlValueEncoded, SqlValueType, {
    strict: true,
    decode: (wire, _, ast) => {
      if (wire instanceof Float) {
        return Number.isFinite(wire.value)
          ? ParseResult.succeed(wire.value)
          : ParseResult.fail(new ParseResult.Type(ast, wire, "NaN and infinities have no SQL value"))
      }
      if (typeof wire === "number") {
        if (!Number.isFinite(wire)) return ParseResult.fail(new ParseResult.Type(ast, wire, "NaN and infinities have no SQL value"))
        return ParseResult.succeed(Number.isInteger(wire) ? BigInt(wire) : wire)
      }
      if (typeof wire === "bigint" && !inI64(wire)) {
        return ParseResult.fail(new ParseResult.Type(ast, wire, "integer outside the 64-bit range"))
      }
      return ParseResult.succeed(wire)
    },
    encode: (value) =>
      ParseResult.succeed(
        typeof value === "number"
          ? (Number.isInteger(value) ? new Float(value) : value)
          : typeof value === "bigint" && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(value)
          : value
      )
  })

/** An i64 count or rowid: a `bigint` in the model, digits on the wire. */
export const Int64: Schema.Schema<bigint, number | bigint> = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.BigIntFromSelf),
  Schema.BigIntFromSelf,
  {
    strict: true,
    decode: (wire, _, ast) =>
      typeof wire === "bigint"
        ? (inI64(wire) ? ParseResult.succeed(wire) : ParseResult.fail(new ParseResult.Type(ast, wire, "integer outside the 64-bit range")))
        : Number.isInteger(wire)
        ? ParseResult.succeed(BigInt(wire))
        : ParseResult.fail(new ParseResult.Type(ast, wire, "expected an integer")),
    encode: (value) =>
      ParseResult.succeed(
        value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value
      )
  }
)
