import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as zlib from "node:zlib"
import * as Database from "../src/Database.js"
import * as HeyoClient from "../src/HeyoClient.js"

interface Seen {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly text: string | undefined
  readonly bytes: Uint8Array | undefined
}

/** A fake server that keeps request bodies as raw text, so the lossless encoding is visible. */
const fake = (answer: (seen: Seen) => Response) => {
  const seen: Array<Seen> = []
  const client = HttpClient.make((request, url) =>
    Effect.sync(() => {
      const bytes = request.body._tag === "Uint8Array" ? request.body.body : undefined
      const entry: Seen = {
        method: request.method,
        path: url.pathname,
        query: url.searchParams,
        text: bytes === undefined ? undefined : new TextDecoder().decode(bytes),
        bytes
      }
      seen.push(entry)
      return HttpClientResponse.fromWeb(request, answer(entry))
    })
  )
  const layer = Database.layer.pipe(
    Layer.provide(HeyoClient.layer({ baseUrl: "http://heyo.test" })),
    Layer.provide(Layer.succeed(HttpClient.HttpClient, client))
  )
  return { seen, layer }
}

const json = (text: string, status = 200) => new Response(text, { status, headers: { "content-type": "application/json" } })

describe("Database", () => {
  it.effect("exec writes SqlValues losslessly and reads 64-bit integers and floats back typed", () => {
    const { layer, seen } = fake(() =>
      json(`{"results":[{"columns":["a","b"],"rows":[[9223372036854775807,1.0]],"rows_affected":0,"truncated":false}],"elapsed_ms":1}`)
    )
    return Effect.gen(function*() {
      const result = yield* Database.exec("db-1", "SELECT ?, ?, ?, ?", [2n ** 63n - 1n, 1, 0.1, true], { maxRows: 5 })
      assert.deepStrictEqual(result.rows, [[2n ** 63n - 1n, 1]])
      assert.strictEqual(seen[0]!.path, "/sqlite-databases/db-1/exec")
      assert.strictEqual(
        seen[0]!.text,
        `{"statements":[{"sql":"SELECT ?, ?, ?, ?","args":[9223372036854775807,1.0,0.1,true]}],"max_rows":5}`
      )
    }).pipe(Effect.provide(layer))
  })

  it.effect("batch sends the transaction mode; values with no wire form never leave the client", () => {
    const { layer, seen } = fake(() => json(`{"results":[],"elapsed_ms":0}`))
    return Effect.gen(function*() {
      yield* Database.batch("db-1", [{ sql: "INSERT INTO t VALUES (?)", args: [null] }], { transaction: "exclusive" })
      assert.include(seen[0]!.text!, `"transaction":"exclusive"`)
      const nan = yield* Effect.flip(Database.exec("db-1", "SELECT ?", [Number.POSITIVE_INFINITY]))
      assert.strictEqual(nan._tag, "InvalidArgument")
      const wide = yield* Effect.flip(Database.exec("db-1", "SELECT ?", [-(2n ** 63n) - 1n]))
      assert.strictEqual(wide._tag, "InvalidArgument")
      assert.strictEqual(seen.length, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("checkin needs expectedVersion or force (refused before any request); 409 is CheckinConflict", () => {
    const { layer, seen } = fake(() => json(`{"message":"stale","current_version":7}`, 409))
    return Effect.gen(function*() {
      const neither = yield* Effect.flip(Database.checkin("db-1", new Uint8Array([1]), {} as never))
      assert.strictEqual(neither._tag, "InvalidArgument")
      assert.strictEqual(seen.length, 0)
      const conflict = yield* Effect.flip(Database.checkin("db-1", new Uint8Array([1, 2, 3]), { expectedVersion: 3 }))
      assert.strictEqual(conflict._tag, "CheckinConflict")
      if (conflict._tag === "CheckinConflict") {
        assert.deepStrictEqual(conflict.expected, Option.some(3))
        assert.strictEqual(conflict.current, 7)
      }
      assert.strictEqual(seen[0]!.method, "PUT")
      assert.strictEqual(seen[0]!.query.get("expected_version"), "3")
      assert.deepStrictEqual([...zlib.gunzipSync(seen[0]!.bytes!)], [1, 2, 3], "the file is sent gzipped")
    }).pipe(Effect.provide(layer))
  })

  it.effect("checkout gunzips the file and reads X-Heyo-Data-Version; a missing header is an Api error", () => {
    let withHeader = true
    const { layer } = fake(() =>
      new Response(zlib.gzipSync(Buffer.from("SQLite format 3\u0000")), {
        headers: withHeader ? { "x-heyo-data-version": "12", "content-type": "application/gzip" } : {}
      })
    )
    return Effect.gen(function*() {
      const out = yield* Database.checkout("db-1")
      assert.strictEqual(out.version, 12)
      assert.strictEqual(new TextDecoder().decode(out.bytes), "SQLite format 3\u0000")
      withHeader = false
      const missing = yield* Effect.flip(Database.checkout("db-1"))
      assert.strictEqual(missing._tag, "Api")
      assert.include(missing.message, "X-Heyo-Data-Version")
    }).pipe(Effect.provide(layer))
  })
})
