/**
 * `npm run demo`: an embedded heyod on a free port with a temporary data dir, the quickstart
 * against it, the same SDK over heyod's P2P ticket (examples/p2p.ts), then heyod stopped and its
 * data dir removed, leaving nothing behind.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { HeyoClient, Sandbox } from "@heyo-effect/sdk"
import { Heyod } from "@heyo-effect/server"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as P2p from "./p2p.js"
import { program } from "./quickstart.js"

const main = Effect.gen(function*() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heyo-demo-"))
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => fs.rmSync(dataDir, { recursive: true, force: true })).pipe(
      Effect.zipRight(Console.log("stopped  heyod; its sandboxes, mounts and temporary data are gone"))
    )
  )
  const url = yield* Heyod.url.pipe(Effect.provide(yield* Layer.build(Heyod.layer({ port: 0, dataDir }))))
  yield* Console.log(`heyod    listening on ${url} (data in ${dataDir})`)
  const sdk = Sandbox.layer.pipe(Layer.provideMerge(HeyoClient.layer({ baseUrl: url })), Layer.provide(NodeHttpClient.layerUndici))
  yield* program.pipe(Effect.provide(sdk))
  yield* P2p.program.pipe(Effect.provide(sdk))
})

NodeRuntime.runMain(Effect.scoped(main))
