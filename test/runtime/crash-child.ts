/**
 * A heyod stand-in that crashes: builds the runtime on the data dir given as argv[2], starts a
 * sandbox with a file and a background process, prints "ready", then waits to be SIGKILLed.
 * Used by the crash-recovery test; not a test file itself.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NamespaceRuntime from "../../packages/server/src/runtime/NamespaceRuntime.js"
import { Runtime } from "../../packages/server/src/runtime/Runtime.js"

const dataDir = process.argv[2]!
const storage = (process.argv[3] ?? "auto") as "auto" | "btrfs" | "dir"

Effect.runFork(Effect.scoped(Effect.gen(function*() {
  const context = yield* Layer.build(NamespaceRuntime.layer({ dataDir, storage }))
  const runtime = yield* Runtime.pipe(Effect.provide(context))
  yield* runtime.create("sb-crash", "host")
  yield* runtime.start({
    id: "sb-crash",
    image: "host",
    hostname: "crash",
    limits: { cpus: 0.25, memoryBytes: 512 * 1024 * 1024, pids: 256 }
  })
  yield* runtime.writeFile("sb-crash", "/workspace/before-crash.txt", new TextEncoder().encode("still here"))
  yield* runtime.exec("sb-crash", { argv: ["sh", "-c", "sleep 1000 &"], cwd: "/", env: {} })
  yield* Effect.sync(() => process.stdout.write("ready\n"))
  return yield* Effect.never
})).pipe(Effect.catchAllCause((cause) => Effect.sync(() => {
  console.error(String(cause))
  process.exit(1)
}))))
