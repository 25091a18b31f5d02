/** The plain-directory storage fallback (no btrfs): the same lifecycle on a smaller scale. */
import { assert, describe, it } from "@effect/vitest"
import { Sandbox } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

describe("plain-directory storage", () => {
  it.live("create -> run -> files -> stop/start -> kill, and a restart, without btrfs", () =>
    Effect.gen(function*() {
      const heyod = yield* Effect.promise(() => Heyod.start({ args: ["--storage", "dir"] }))
      const id = yield* Effect.gen(function*() {
        assert.isFalse(fs.existsSync(path.join(heyod.dataDir, "state.img")), "no btrfs image in dir mode")
        const sandbox = yield* Sandbox.create({ name: "dir-box" })
        assert.strictEqual((yield* sandbox.commands.run("echo hi")).stdout, "hi\n")
        yield* sandbox.files.write("a.txt", "kept")
        yield* sandbox.stop()
        yield* sandbox.start()
        assert.strictEqual(yield* sandbox.files.readText("a.txt"), "kept")
        return sandbox.id
      }).pipe(Effect.provide(SdkClient.layer(heyod)))
      const stopped = yield* Effect.promise(() => heyod.stop())
      assert.isBelow(stopped.millis, 10_000)
      assert.deepStrictEqual(Heyod.leftovers(heyod.dataDir), { mounts: [], netns: [], cgroups: [], processes: [], loops: [] })

      const again = yield* Effect.promise(() => Heyod.start({ dataDir: heyod.dataDir, args: ["--storage", "dir"] }))
      yield* Effect.gen(function*() {
        const handle = yield* Sandbox.connect(id)
        assert.strictEqual(yield* handle.files.readText("a.txt"), "kept")
        yield* handle.kill()
      }).pipe(
        Effect.provide(SdkClient.layer(again)),
        Effect.ensuring(Effect.promise(async () => {
          await again.stop()
          assert.deepStrictEqual(Heyod.leftovers(again.dataDir), { mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
        }))
      )
    }), 120_000)
})
