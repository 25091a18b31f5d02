/**
 * Quickstart: create a sandbox, run commands, write then read a file, list, kill.
 *
 * Against a running heyod: `pnpm heyod` in one terminal, then
 * `HEYO_BASE_URL=http://127.0.0.1:34099 pnpm exec tsx examples/quickstart.ts`.
 * `npm run demo` runs it against a heyod of its own.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { HeyoClient, Sandbox } from "@heyo-effect/sdk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { fileURLToPath } from "node:url"

export const program = Effect.gen(function*() {
  const started = Date.now()
  const sandbox = yield* Sandbox.create({ name: `quickstart-${started.toString(36)}` })
  yield* Console.log(`created  ${sandbox.id} and it is running (${Date.now() - started} ms)`)

  const uname = yield* sandbox.commands.run("uname -a")
  yield* Console.log(`uname    ${uname.stdout.trim()}`)
  const hi = yield* sandbox.commands.run("echo hi")
  yield* Console.log(`echo     ${hi.stdout.trim()} (exit ${hi.exitCode})`)

  yield* sandbox.files.write("hello.txt", "Hello from heyo-effect!\n")
  const text = yield* sandbox.files.readText("hello.txt")
  yield* Console.log(`file     /workspace/hello.txt: ${text.trim()}`)

  const sandboxes = yield* Sandbox.list()
  yield* Console.log(`list     ${sandboxes.map((s) => `${s.name} (${s.status})`).join(", ")}`)

  yield* sandbox.kill()
  yield* Console.log(`killed   ${sandbox.id}`)
})

// Run directly: reads HEYO_BASE_URL (and HEYO_API_KEY, if the server needs one).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  program.pipe(
    Effect.provide(Sandbox.layer.pipe(Layer.provide(HeyoClient.layerConfig), Layer.provide(NodeHttpClient.layerUndici))),
    NodeRuntime.runMain
  )
}
