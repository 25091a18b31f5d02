/**
 * The Heyo dialect (reference/heyo-api.md §2.1-2.3, §2.5): exact routes, snake_case bodies,
 * status codes and `{message}` errors, over the engine.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeyoExec, HeyoFiles, HeyoSandbox, HeyoServer } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Sandboxes } from "../../engine/Sandboxes.js"
import { features, p2pFeature } from "../../Features.js"
import * as P2pGrants from "../../network/P2pGrants.js"
import * as Body from "../Body.js"
import * as ArchiveRoutes from "./ArchiveRoutes.js"
import * as CheckpointRoutes from "./CheckpointRoutes.js"
import * as DaemonRoutes from "./DaemonRoutes.js"
import * as DatabaseRouter from "./DatabaseRouter.js"
import { sandboxInfo } from "./SandboxView.js"
import * as ShellRoutes from "./ShellRoutes.js"
import * as TunnelRoutes from "./TunnelRoutes.js"
import * as ProxyEndpointRoutes from "./ProxyEndpointRoutes.js"
import * as NetworkRoutes from "./NetworkRoutes.js"

const sandboxId = Effect.map(HttpRouter.params, (params) => params["id"] ?? "")

const info = (record: Parameters<typeof sandboxInfo>[0], status = 200) =>
  Effect.flatMap(
    ProxyEndpointRoutes.urlsOf(record),
    (urls) => HttpServerResponse.schemaJson(HeyoSandbox.SandboxInfo)(sandboxInfo(record, urls), { status })
  )

const decoder = new TextDecoder()

export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/health", HttpServerResponse.schemaJson(HeyoServer.Health)(new HeyoServer.Health({ status: "ok" }))),
  HttpRouter.get(
    "/capabilities",
    Effect.gen(function*() {
      const p2p = yield* P2pGrants.optional
      const p2pOn = Option.isSome(p2p) && p2p.value.available
      return yield* HttpServerResponse.schemaJson(HeyoServer.Capabilities)(
        new HeyoServer.Capabilities({
          targetOs: "linux",
          supportedDrivers: ["bubblewrap"],
          archiveSupportedDrivers: [],
          defaultDriver: "bubblewrap",
          features: p2pOn ? features : features.filter((f) => f !== p2pFeature)
        })
      )
    })
  ),
  HttpRouter.post(
    "/sandbox-deploy",
    Effect.gen(function*() {
      const body = yield* Body.json(HeyoSandbox.SandboxCreateBody)
      const record = yield* (yield* Sandboxes).create(body)
      return yield* HttpServerResponse.schemaJson(HeyoSandbox.SandboxDeployResponse)(
        new HeyoSandbox.SandboxDeployResponse({ id: HeyoSandbox.SandboxId.make(record.id), status: record.status }),
        { status: 202 }
      )
    })
  ),
  HttpRouter.get(
    "/deployed-sandboxes",
    Effect.gen(function*() {
      const query = yield* HttpServerRequest.ParsedSearchParams
      const name = typeof query["name"] === "string" ? query["name"] : undefined
      const records = yield* (yield* Sandboxes).list(name)
      const infos = yield* Effect.forEach(records, (r) => Effect.map(ProxyEndpointRoutes.urlsOf(r), (urls) => sandboxInfo(r, urls)))
      return yield* HttpServerResponse.schemaJson(HeyoSandbox.SandboxList)(infos)
    })
  ),
  HttpRouter.get(
    "/deployed-sandboxes/:id",
    Effect.gen(function*() {
      return yield* info(yield* (yield* Sandboxes).get(yield* sandboxId))
    })
  ),
  HttpRouter.del(
    "/deployed-sandboxes/:id",
    Effect.gen(function*() {
      yield* (yield* Sandboxes).remove(yield* sandboxId)
      return HttpServerResponse.empty({ status: 204 })
    })
  ),
  HttpRouter.post(
    "/sandbox/:id/stop",
    Effect.gen(function*() {
      const record = yield* (yield* Sandboxes).stop(yield* sandboxId)
      return yield* HttpServerResponse.schemaJson(HeyoSandbox.StatusBody)(
        new HeyoSandbox.StatusBody({ status: record.status })
      )
    })
  ),
  HttpRouter.post(
    "/sandbox/:id/start",
    Effect.gen(function*() {
      return yield* info(yield* (yield* Sandboxes).start(yield* sandboxId))
    })
  ),
  HttpRouter.post(
    "/deployed-sandboxes/:id/restart",
    Effect.gen(function*() {
      return yield* info(yield* (yield* Sandboxes).restart(yield* sandboxId))
    })
  ),
  HttpRouter.post(
    "/deployed-sandboxes/:id/ttl",
    Effect.gen(function*() {
      const id = yield* sandboxId
      const body = yield* Body.json(HeyoSandbox.TtlBody)
      return yield* info(yield* (yield* Sandboxes).setTtl(id, body.ttlSeconds))
    })
  ),
  HttpRouter.post(
    "/sandbox/:id/exec",
    Effect.gen(function*() {
      const id = yield* sandboxId
      const body = yield* Body.json(HeyoExec.ExecRequest)
      const out = yield* (yield* Sandboxes).exec(id, body)
      return yield* HttpServerResponse.schemaJson(HeyoExec.ExecResponse)(
        new HeyoExec.ExecResponse({
          stdout: decoder.decode(out.stdout),
          stderr: decoder.decode(out.stderr),
          output: decoder.decode(out.output),
          exitCode: out.exitCode
        })
      )
    })
  ),
  HttpRouter.post(
    "/sandbox/:id/read-file",
    Effect.gen(function*() {
      const id = yield* sandboxId
      const body = yield* Body.json(HeyoFiles.ReadFileRequest)
      const file = yield* (yield* Sandboxes).readFile(id, body.filePath, body.mountPath)
      return yield* HttpServerResponse.schemaJson(HeyoFiles.ReadFileResponse)(
        new HeyoFiles.ReadFileResponse({
          content: file.content,
          filePath: body.filePath,
          contentType: "application/octet-stream"
        })
      )
    })
  ),
  HttpRouter.post(
    "/sandbox/:id/write-file",
    Effect.gen(function*() {
      const id = yield* sandboxId
      const body = yield* Body.json(HeyoFiles.WriteFileRequest)
      yield* (yield* Sandboxes).writeFile(id, body.filePath, body.mountPath, body.content)
      return yield* HttpServerResponse.schemaJson(HeyoFiles.WriteFileResponse)(
        new HeyoFiles.WriteFileResponse({ status: "created" }),
        { status: 201 }
      )
    })
  ),
  HttpRouter.concat(HttpRouter.concatAll(
    CheckpointRoutes.router,
    ArchiveRoutes.router,
    ShellRoutes.router,
    DatabaseRouter.router,
    TunnelRoutes.router,
    ProxyEndpointRoutes.router,
    NetworkRoutes.router,
    DaemonRoutes.router
  ))
)
