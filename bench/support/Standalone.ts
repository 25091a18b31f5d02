/**
 * `tsx bench/<one>.ts`: each bench file can run alone against a heyod of its own, embedded on a
 * free port with a temporary data dir that is removed afterwards.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Heyod } from "@heyo-effect/server"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Runs `bench` when `moduleUrl` (the caller's `import.meta.url`) is the script node started. */
export const runAlone = <E>(
  moduleUrl: string,
  bench: (url: string, dataDir: string) => Effect.Effect<void, E>,
  options: Partial<Heyod.Options> = {}
) => {
  if (process.argv[1] === undefined || fileURLToPath(moduleUrl) !== path.resolve(process.argv[1])) return
  const main = Effect.gen(function*() {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heyo-bench-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dataDir, { recursive: true, force: true })))
    const url = yield* Heyod.url.pipe(Effect.provide(yield* Layer.build(Heyod.layer({ ...options, port: 0, dataDir }))))
    yield* bench(url, dataDir)
  })
  NodeRuntime.runMain(Effect.scoped(main))
}
