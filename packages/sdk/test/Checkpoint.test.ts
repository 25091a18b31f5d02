import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Checkpoint from "../src/Checkpoint.js"
import * as Sandbox from "../src/Sandbox.js"
import * as Testing from "../src/Testing.js"
import { sdk } from "./utils/mockHttp.js"

const capabilities = { targetOs: "linux", supportedDrivers: [], archiveSupportedDrivers: [], defaultDriver: "x", features: ["checkpoints"] }
const ndjson = (...lines: ReadonlyArray<unknown>) => ({
  text: lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
  headers: { "content-type": "application/x-ndjson" }
})
const wire = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  create_time: "2026-01-05T10:30:00Z",
  comment: "",
  history: [],
  is_auto: false,
  source_id: "",
  health: "",
  ...extra
})

describe("Checkpoint over HTTP", () => {
  it.effect("create streams progress, reads the id from the complete line, then fetches the checkpoint", () => {
    const { layer, requests } = sdk((r) => {
      if (r.path === "/capabilities") return { json: capabilities }
      if (r.method === "POST" && r.path === "/v1/sprites/sb-1/checkpoint") {
        return ndjson(
          { type: "info", data: "Creating checkpoint...", time: "2026-01-05T10:30:00Z" },
          { type: "something-new", data: "skipped" },
          { type: "complete", data: "Checkpoint v8 created", time: "2026-01-05T10:30:01Z" }
        )
      }
      if (r.path === "/v1/sprites/sb-1/checkpoints/v8") return { json: wire("v8", { comment: "hello", source_id: "v7", history: ["v7"] }) }
      return { status: 404, json: { error: "not_found", message: "no" } }
    })
    return Effect.gen(function*() {
      const events = yield* Stream.runCollect(Checkpoint.createStream("sb-1", { comment: "hello" }))
      assert.deepStrictEqual([...events].map((e) => e._tag), ["Info", "Complete"])
      const created = yield* Checkpoint.create("sb-1", { comment: "hello" })
      assert.strictEqual(created.id, "v8")
      assert.strictEqual(created.comment, "hello")
      assert.strictEqual(created.sourceId, "v7")
      assert.strictEqual(created.createTime.toISOString(), "2026-01-05T10:30:00.000Z")
      const post = requests.find((r) => r.method === "POST")!
      assert.deepStrictEqual(post.body, { comment: "hello" })
    }).pipe(Effect.provide(layer))
  })

  it.effect("an error line fails the stream: unknown id as NotFound, anything else as CheckpointFailed", () => {
    const { layer } = sdk((r) => {
      if (r.path === "/capabilities") return { json: capabilities }
      if (r.path.endsWith("/v9/restore")) return ndjson({ type: "error", error: "checkpoint v9 not found", code: "not_found" })
      if (r.path.endsWith("/v1/restore")) return ndjson({ type: "info", data: "..." }, { type: "error", error: "disk full" })
      if (r.path.endsWith("/v2/restore")) return ndjson({ type: "info", data: "..." })
      return { status: 500, json: {} }
    })
    return Effect.gen(function*() {
      const missing = yield* Effect.either(Checkpoint.restore("sb-1", "v9"))
      assert.isTrue(Either.isLeft(missing) && missing.left._tag === "NotFound")
      const failed = yield* Effect.either(Checkpoint.restore("sb-1", "v1"))
      assert.isTrue(Either.isLeft(failed) && failed.left._tag === "CheckpointFailed" && failed.left.message.includes("disk full"))
      const cut = yield* Effect.either(Checkpoint.restore("sb-1", "v2"))
      assert.isTrue(Either.isLeft(cut) && cut.left._tag === "CheckpointFailed", "a stream without an outcome is a failure")
    }).pipe(Effect.provide(layer))
  })

  it.effect("list passes includeAuto; a server without the extension is Unsupported before any call", () => {
    const { layer, requests } = sdk((r) => {
      if (r.path === "/capabilities") return { json: { ...capabilities, features: [] } }
      return { json: [] }
    })
    return Effect.gen(function*() {
      const result = yield* Effect.either(Checkpoint.list("sb-1", { includeAuto: true }))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "Unsupported")
      assert.isFalse(requests.some((r) => r.path.includes("/checkpoints")))
    }).pipe(Effect.provide(layer))
  })
})

describe("Checkpoint in Testing.layer", () => {
  it.effect("copies the fake's files; restore brings them back; the current one cannot be deleted", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.create({ name: "t" })
      yield* sandbox.files.write("a.txt", "one")
      const v0 = yield* Checkpoint.create(sandbox.id, { comment: "first" })
      assert.strictEqual(v0.id, "v0")
      yield* sandbox.files.write("a.txt", "two")
      const v1 = yield* Checkpoint.create(sandbox.id)
      assert.deepStrictEqual(v1.history, ["v0"])
      const last = yield* Stream.runLast(Checkpoint.restoreStream(sandbox.id, "v0"))
      assert.isTrue(Option.isSome(last) && last.value._tag === "Complete")
      assert.strictEqual(yield* sandbox.files.readText("a.txt"), "one")
      const refused = yield* Effect.either(Checkpoint.remove(sandbox.id, "v0"))
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "Api")
      yield* Checkpoint.remove(sandbox.id, "v1")
      assert.deepStrictEqual((yield* Checkpoint.list(sandbox.id)).map((c) => c.id), ["v0"])
      const unknown = yield* Effect.either(Checkpoint.restore(sandbox.id, "v7"))
      assert.isTrue(Either.isLeft(unknown) && unknown.left._tag === "NotFound")
      yield* Sandbox.coldStore(sandbox.id)
      assert.strictEqual((yield* Sandbox.info(sandbox.id)).status, "cold-stored")
      yield* Sandbox.restore(sandbox.id)
      assert.strictEqual((yield* Sandbox.info(sandbox.id)).status, "running")
    }).pipe(Effect.provide(Testing.layer())))
})
