import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Checkpoints, keptAutomatic, layer as checkpointsLayer } from "../src/engine/Checkpoints.js"
import { Sandboxes, layer as sandboxesLayer } from "../src/engine/Sandboxes.js"
import { defaults, ServerConfig } from "../src/ServerConfig.js"
import * as Store from "../src/state/Store.js"
import * as FakeRuntime from "./support/FakeRuntime.js"

const engine = (fake: ReturnType<typeof FakeRuntime.make>) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heyod-checkpoints-"))
  return checkpointsLayer.pipe(
    Layer.provideMerge(sandboxesLayer),
    Layer.provide(Store.layer(dataDir)),
    Layer.provide(fake.layer),
    Layer.provide(Layer.succeed(ServerConfig, { ...defaults, dataDir }))
  )
}

const running = (name: string) =>
  Effect.gen(function*() {
    const sandboxes = yield* Sandboxes
    const created = yield* sandboxes.create({ name })
    for (let i = 0; i < 200; i++) {
      if ((yield* sandboxes.get(created.id)).status === "running") return created.id
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage(`${name} never ran`)
  })

describe("Checkpoints engine", () => {
  it.live("numbers v0, v1, ... per sandbox, chains history, and restores the runtime's copy", () => {
    const fake = FakeRuntime.make()
    return Effect.gen(function*() {
      const checkpoints = yield* Checkpoints
      const a = yield* running("a")
      const b = yield* running("b")
      const progress: Array<string> = []
      const v0 = yield* checkpoints.create(a, { comment: "first" }, (m) => Effect.sync(() => void progress.push(m)))
      assert.strictEqual(v0.id, "v0")
      assert.isTrue(progress.length > 0)
      const v1 = yield* checkpoints.create(a)
      assert.deepStrictEqual([v1.id, v1.sourceId, v1.history], ["v1", "v0", ["v0"]])
      assert.strictEqual((yield* checkpoints.create(b)).id, "v0", "ids belong to one sandbox")
      assert.deepStrictEqual((yield* checkpoints.list(a)).map((c) => c.id), ["v1", "v0"])
      assert.deepStrictEqual((yield* checkpoints.list(a, { history: "v0" })).map((c) => c.id), ["v1", "v0"])

      fake.state.files.get(a)!.set("/workspace/x", new Uint8Array([1]))
      const restored = yield* checkpoints.restore(a, "v0")
      assert.strictEqual(restored.status, "running")
      assert.isFalse(fake.state.files.get(a)!.has("/workspace/x"))
      assert.strictEqual(yield* checkpoints.current(a), "v0")

      const missing = yield* Effect.either(checkpoints.restore(a, "v9"))
      assert.isTrue(Either.isLeft(missing) && missing.left._tag === "CheckpointNotFound")
      const current = yield* Effect.either(checkpoints.remove(a, "v0"))
      assert.isTrue(Either.isLeft(current) && current.left._tag === "Conflict")
      yield* checkpoints.remove(a, "v1")
      assert.strictEqual((yield* checkpoints.create(a)).id, "v2", "a deleted id is never handed out again")
    }).pipe(Effect.provide(engine(fake)))
  })

  it.live("cold store stops the sandbox with an automatic checkpoint; only the last few are kept", () => {
    const fake = FakeRuntime.make()
    return Effect.gen(function*() {
      const checkpoints = yield* Checkpoints
      const id = yield* running("cold")
      for (let i = 0; i < keptAutomatic + 2; i++) {
        const cold = yield* checkpoints.coldStore(id)
        assert.strictEqual(cold.status, "cold-stored")
        assert.isFalse(fake.state.running.has(id))
        const woken = yield* checkpoints.wake(id)
        assert.strictEqual(woken.status, "running")
      }
      const autos = (yield* checkpoints.list(id, { includeAuto: true })).filter((c) => c.isAuto)
      assert.strictEqual(autos.length, keptAutomatic)
      assert.strictEqual(autos[0]!.id, `auto-${keptAutomatic + 1}`)
      assert.deepStrictEqual(yield* checkpoints.list(id), [], "automatic ones are hidden by default")
      const onDisk = [...fake.state.checkpoints.keys()].filter((k) => k.startsWith(`${id}/`))
      assert.strictEqual(onDisk.length, keptAutomatic, "pruned copies are deleted too")
    }).pipe(Effect.provide(engine(fake)))
  })
})
