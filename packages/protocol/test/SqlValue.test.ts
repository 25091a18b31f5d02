import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { HeyoDatabase, SqlJson } from "../src/index.js"

const decodeExec = Schema.decodeUnknown(HeyoDatabase.ExecRequest)
const encodeResponse = Schema.encode(HeyoDatabase.ExecResponse)

describe("SqlJson", () => {
  it("parses integers exactly and keeps integral floats apart", () => {
    const parsed = SqlJson.parse(`[9223372036854775807, -9223372036854775808, 42, 1.0, 0.1, 1e3, -0.0, 2.5e-3]`) as Array<unknown>
    assert.strictEqual(parsed[0], 9223372036854775807n)
    assert.strictEqual(parsed[1], -9223372036854775808n)
    assert.strictEqual(parsed[2], 42)
    assert.instanceOf(parsed[3], SqlJson.Float)
    assert.strictEqual((parsed[3] as SqlJson.Float).value, 1)
    assert.strictEqual(parsed[4], 0.1)
    assert.instanceOf(parsed[5], SqlJson.Float)
    assert.isTrue(Object.is((parsed[6] as SqlJson.Float).value, -0))
    assert.strictEqual(parsed[7], 0.0025)
  })

  it("parses objects, strings with escapes, literals; refuses bad JSON", () => {
    assert.deepStrictEqual(SqlJson.parse(` {"a": [true, false, null], "b\\n": "x\\u00e9\\"", "c": {}} `), {
      a: [true, false, null],
      "b\n": "xé\"",
      c: {}
    })
    const proto = SqlJson.parse(`{"__proto__": {"polluted": 1}}`) as Record<string, unknown>
    assert.isUndefined(({} as Record<string, unknown>)["polluted"])
    assert.deepStrictEqual(Object.keys(proto), ["__proto__"])
    for (const bad of ["", "{", "[1,]", "01", "NaN", "{\"a\" 1}", "1 2", "'x'", "[1e]"]) {
      assert.throws(() => SqlJson.parse(bad), SyntaxError, undefined, bad)
    }
  })

  it("stringifies bigint as digits and Float with a decimal point; refuses non-finite numbers", () => {
    assert.strictEqual(
      SqlJson.stringify({ a: 2n ** 63n - 1n, b: new SqlJson.Float(1), c: 0.1, d: [null, "s"], e: undefined, f: new SqlJson.Float(-0) }),
      `{"a":9223372036854775807,"b":1.0,"c":0.1,"d":[null,"s"],"f":-0.0}`
    )
    assert.strictEqual(SqlJson.stringify(new SqlJson.Float(1e300)), "1e+300")
    assert.throws(() => SqlJson.stringify(Number.NaN), RangeError)
    assert.throws(() => SqlJson.stringify(new SqlJson.Float(Infinity)), RangeError)
  })
})

describe("SqlValue through the exec schemas", () => {
  it.effect("decodes wire args to the model: integer literals are bigint, float literals number", () =>
    Effect.gen(function*() {
      const body = SqlJson.parse(
        `{"statements":[{"sql":"x","args":[null,true,9223372036854775807,7,1.0,0.5,"t"]}],"max_rows":5}`
      )
      const request = yield* decodeExec(body)
      assert.deepStrictEqual(request.statements[0]!.args, [null, true, 9223372036854775807n, 7n, 1, 0.5, "t"])
      assert.strictEqual(request.maxRows, 5)
    }))

  it.effect("refuses out-of-range integers, infinities and a missing statement list", () =>
    Effect.gen(function*() {
      const tooBig = yield* Effect.either(decodeExec(SqlJson.parse(`{"statements":[{"sql":"x","args":[9223372036854775808]}]}`)))
      assert.isTrue(tooBig._tag === "Left")
      const inf = yield* Effect.either(decodeExec(SqlJson.parse(`{"statements":[{"sql":"x","args":[1e999]}]}`)))
      assert.isTrue(inf._tag === "Left")
      const empty = yield* Effect.either(decodeExec({ statements: [] }))
      assert.isTrue(empty._tag === "Left")
    }))

  it.effect("encodes results losslessly: the wire text has every digit and 1.0", () =>
    Effect.gen(function*() {
      const response = new HeyoDatabase.ExecResponse({
        results: [
          new HeyoDatabase.StatementResult({
            columns: ["i", "f", "g"],
            rows: [[2n ** 63n - 1n, 1, 0.1], [-(2n ** 63n), 2.5, null]],
            rowsAffected: 0n,
            lastInsertRowid: 9007199254740993n,
            truncated: false
          })
        ],
        elapsedMs: 3
      })
      const text = SqlJson.stringify(yield* encodeResponse(response))
      assert.strictEqual(
        text,
        `{"results":[{"columns":["i","f","g"],"rows":[[9223372036854775807,1.0,0.1],[-9223372036854775808,2.5,null]],` +
          `"rows_affected":0,"last_insert_rowid":9007199254740993,"truncated":false}],"elapsed_ms":3}`
      )
      // And back: the same model.
      const again = yield* Schema.decodeUnknown(HeyoDatabase.ExecResponse)(SqlJson.parse(text))
      assert.deepStrictEqual(again.results[0]!.rows, response.results[0]!.rows)
      assert.strictEqual(again.results[0]!.lastInsertRowid, 9007199254740993n)
    }))
})
