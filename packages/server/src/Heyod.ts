/**
 * heyod assembled: configuration, state store, runtime driver, engine and HTTP server on
 * 127.0.0.1. Used by the `heyod` command and by programs that embed a server (the demo, tests).
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import * as Databases from "./database/Databases.js"
import * as Archives from "./engine/Archives.js"
import * as DaemonIdentity from "./engine/DaemonIdentity.js"
import * as Checkpoints from "./engine/Checkpoints.js"
import * as Sandboxes from "./engine/Sandboxes.js"
import * as SandboxFs from "./files/SandboxFs.js"
import * as Sessions from "./sessions/Sessions.js"
import { app } from "./http/Dialects.js"
import * as Network from "./network/Network.js"
import * as Networks from "./network/Networks.js"
import * as P2pGrants from "./network/P2pGrants.js"
import * as NamespaceRuntime from "./runtime/NamespaceRuntime.js"
import { defaults, type Options, ServerConfig } from "./ServerConfig.js"
import * as Store from "./state/Store.js"

export { defaults, type Options }

/** The whole server as a Layer; it listens once built and stops cleanly when released. */
export const layer = (overrides: Partial<Options> = {}) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const options: Options = { ...defaults, ...overrides, dataDir: path.resolve(overrides.dataDir ?? defaults.dataDir) }
    yield* Effect.sync(() => fs.mkdirSync(options.dataDir, { recursive: true }))
    const config = Layer.succeed(ServerConfig, options)
    const engine = Layer.mergeAll(Checkpoints.layer, Archives.layer, Sessions.layer, SandboxFs.layer, DaemonIdentity.layer).pipe(
      Layer.provideMerge(Sandboxes.layer),
      Layer.provide(Store.layer(options.dataDir)),
      // networking wraps the bare runtime: it provides Network and the networked Runtime
      // private networks wrap the networked runtime in turn (Networks.ts)
      // P2P grants (iroh endpoints) sit on top: sandbox destroy drops their grants
      Layer.provideMerge(P2pGrants.layer.pipe(Layer.provideMerge(Networks.layer.pipe(Layer.provideMerge(Network.layer.pipe(
        Layer.provide(NamespaceRuntime.layer({ dataDir: options.dataDir, storage: options.storage }))
      )))))),
      Layer.provide(config)
    )
    // the daemon's P2P grant reaches heyod's own port, known only once the server listens
    const daemonTarget = Layer.effectDiscard(Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const grants = yield* P2pGrants.optional
      if (server.address._tag === "TcpAddress" && Option.isSome(grants)) yield* grants.value.setDaemonPort(server.address.port)
    }))
    return Layer.merge(HttpServer.serve(app), daemonTarget).pipe(
      Layer.provide(engine),
      Layer.provide(Databases.layer),
      Layer.provide(config),
      Layer.provideMerge(NodeHttpServer.layer(() => http.createServer(), { port: options.port, host: "127.0.0.1" }))
    )
  }))

/** The base URL a built server listens on. */
export const url = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : `unix:${server.address.path}`)
