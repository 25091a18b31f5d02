/**
 * Driving a heyod over P2P: ask it for its daemon connection ticket, then run the SDK through
 * `HeyoClient.layerP2p` with nothing but that ticket (and the API key, if heyod has one). Every
 * HTTP and WebSocket call rides one iroh connection.
 *
 * Against a running heyod on this machine: `pnpm heyod` in one terminal, then
 * `HEYO_BASE_URL=http://127.0.0.1:34099 pnpm exec tsx examples/p2p.ts`. The client's iroh endpoint
 * is loopback-only here; across machines start heyod with `--p2p production` and pass
 * `{ network: "production" }` to `layerP2p`. `npm run demo` runs it against a heyod of its own.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Daemons, HeyoClient, Sandbox } from "@heyo-effect/sdk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { fileURLToPath } from "node:url"

/** Runs with any client to the daemon: fetches its ticket, then works over P2P only. */
export const program = Effect.gen(function*() {
  const client = yield* HeyoClient.HeyoClient
  const [daemon] = yield* Daemons.list
  if (daemon === undefined) return yield* Console.log("p2p      no daemon listed")
  const ticket = yield* Daemons.connectionTicket(daemon.id)
  yield* Console.log(`p2p      daemon ${daemon.id} (${daemon.status}), ticket ${ticket.slice(0, 32)}...`)

  const overP2p = Sandbox.layer.pipe(
    Layer.provideMerge(HeyoClient.layerP2p(ticket, { apiKey: Option.getOrUndefined(client.apiKey) })),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  yield* Effect.gen(function*() {
    const started = Date.now()
    const sandbox = yield* Sandbox.create({ name: `p2p-${started.toString(36)}` })
    const hi = yield* sandbox.commands.run("echo hello over iroh")
    const p2pClient = yield* HeyoClient.HeyoClient
    yield* Console.log(`p2p      ${hi.stdout.trim()} (via ${p2pClient.baseUrl}, ${Date.now() - started} ms)`)
    yield* sandbox.kill()
  }).pipe(Effect.provide(overP2p))
})

// Run directly: reads HEYO_BASE_URL (and HEYO_API_KEY, if the server needs one).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  program.pipe(
    Effect.provide(Daemons.layer.pipe(
      Layer.provideMerge(HeyoClient.layerConfig),
      Layer.provide(NodeHttpClient.layerUndici)
    )),
    NodeRuntime.runMain
  )
}
