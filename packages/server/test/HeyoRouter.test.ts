import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Databases from "../src/database/Databases.js"
import * as Archives from "../src/engine/Archives.js"
import * as Checkpoints from "../src/engine/Checkpoints.js"
import * as DaemonIdentity from "../src/engine/DaemonIdentity.js"
import * as Sandboxes from "../src/engine/Sandboxes.js"
import { app } from "../src/http/heyo/HeyoApp.js"
import { defaults, type Options, ServerConfig } from "../src/ServerConfig.js"
import * as Sessions from "../src/sessions/Sessions.js"
import * as Store from "../src/state/Store.js"
import * as FakeRuntime from "./support/FakeRuntime.js"

const server = (overrides: Partial<Options> = {}) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heyod-router-"))
  const config = Layer.succeed(ServerConfig, { ...defaults, dataDir, ...overrides })
  const engine = Layer.mergeAll(Checkpoints.layer, Archives.layer, Databases.layer, Sessions.layer, DaemonIdentity.layer).pipe(
    Layer.provideMerge(Sandboxes.layer),
    Layer.provide(Store.layer(dataDir)),
    Layer.provide(FakeRuntime.make().layer),
    Layer.provide(config)
  )
  return HttpServer.serve(app).pipe(
    Layer.provide(engine),
    Layer.provide(config),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )
}

const call = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const response = yield* (yield* HttpClient.HttpClient).execute(request)
    const text = yield* response.text
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
  })

const post = (url: string, body: unknown) => call(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyUnsafeJson(body)))

describe("Heyo router", () => {
  it.scoped("answers the dialect's shapes and codes", () =>
    Effect.gen(function*() {
      const health = yield* call(HttpClientRequest.get("/health"))
      assert.deepStrictEqual(health, { status: 200, body: { status: "ok" } })

      const created = yield* post("/sandbox-deploy", { name: "box", size_class: "micro" })
      assert.strictEqual(created.status, 202)
      assert.strictEqual(created.body.status, "provisioning")
      const id: string = created.body.id

      const info = yield* call(HttpClientRequest.get(`/deployed-sandboxes/${id}`))
      assert.strictEqual(info.status, 200)
      assert.strictEqual(info.body.size_class, "micro")
      assert.deepStrictEqual(info.body.urls, [])
      assert.isString(info.body.status_changed_at)

      const listed = yield* call(HttpClientRequest.get("/deployed-sandboxes?name=box"))
      assert.deepStrictEqual(listed.body.map((s: { id: string }) => s.id), [id])
      const none = yield* call(HttpClientRequest.get("/deployed-sandboxes?name=other"))
      assert.deepStrictEqual(none.body, [])

      const write = yield* post(`/sandbox/${id}/write-file`, { file_path: "a.txt", content: "aGk=" })
      assert.deepStrictEqual(write, { status: 201, body: { status: "created" } })
      const read = yield* post(`/sandbox/${id}/read-file`, { file_path: "a.txt" })
      assert.strictEqual(read.body.content, "aGk=")
      assert.strictEqual(read.body.content_type, "application/octet-stream")

      const exec = yield* post(`/sandbox/${id}/exec`, { command: "true" })
      assert.deepStrictEqual(exec, { status: 200, body: { stdout: "", stderr: "", output: "", exit_code: 0 } })

      const stopped = yield* post(`/sandbox/${id}/stop`, {})
      assert.deepStrictEqual(stopped, { status: 200, body: { status: "stopped" } })
      const conflict = yield* post(`/sandbox/${id}/exec`, { command: "true" })
      assert.strictEqual(conflict.status, 409)
      assert.include(conflict.body.message, "stopped")

      const ttl = yield* post(`/deployed-sandboxes/${id}/ttl`, { ttl_seconds: 600 })
      assert.strictEqual(ttl.body.ttl_seconds, 600)

      const deleted = yield* call(HttpClientRequest.del(`/deployed-sandboxes/${id}`))
      assert.strictEqual(deleted.status, 204)
      const gone = yield* call(HttpClientRequest.get(`/deployed-sandboxes/${id}`))
      assert.strictEqual(gone.status, 404)
      assert.include(gone.body.message, id)
    }).pipe(Effect.provide(server())))

  it.scoped("refuses bad input with 400 naming the field, and big bodies with 413", () =>
    Effect.gen(function*() {
      const bad = yield* post("/sandbox-deploy", { size_class: "gigantic" })
      assert.strictEqual(bad.status, 400)
      assert.include(bad.body.message, "size_class")
      const notJson = yield* call(
        HttpClientRequest.post("/sandbox-deploy").pipe(HttpClientRequest.bodyText("{nope", "application/json"))
      )
      assert.strictEqual(notJson.status, 400)
      assert.include(notJson.body.message, "not valid JSON")
      const base64 = yield* post("/sandbox/sb-00000000/write-file", { file_path: "a", content: "***" })
      assert.strictEqual(base64.status, 400)
      assert.include(base64.body.message, "content")
      const big = yield* post("/sandbox-deploy", { name: "x".repeat(2048) })
      assert.strictEqual(big.status, 413)
      const route = yield* call(HttpClientRequest.get("/nowhere"))
      assert.strictEqual(route.status, 404)
      assert.include(route.body.message, "/nowhere")
    }).pipe(Effect.provide(server({ maxBodyBytes: 1024 }))))

  it.scoped("with an API key, every route but /health needs the bearer", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* call(HttpClientRequest.get("/health"))).status, 200)
      const missing = yield* call(HttpClientRequest.get("/deployed-sandboxes"))
      assert.strictEqual(missing.status, 401)
      assert.isString(missing.body.message)
      const wrong = yield* call(HttpClientRequest.get("/deployed-sandboxes").pipe(HttpClientRequest.bearerToken("nope")))
      assert.strictEqual(wrong.status, 401)
      const right = yield* call(HttpClientRequest.get("/deployed-sandboxes").pipe(HttpClientRequest.bearerToken("s3cret")))
      assert.strictEqual(right.status, 200)
    }).pipe(Effect.provide(server({ apiKey: Redacted.make("s3cret") }))))

  it.scoped("lists itself as the one daemon, keeps its id, and has no connection ticket without P2P", () =>
    Effect.gen(function*() {
      const list = yield* call(HttpClientRequest.get("/me/daemons"))
      assert.strictEqual(list.status, 200)
      assert.strictEqual(list.body.daemons.length, 1)
      const daemon = list.body.daemons[0]
      assert.match(daemon.id, /^hd-[a-z0-9]{8}$/)
      assert.strictEqual(daemon.status, "online")
      assert.isString(daemon.lastSeenAt)
      const one = yield* call(HttpClientRequest.get(`/me/daemons/${daemon.id}`))
      assert.deepStrictEqual([one.status, one.body.id, one.body.createdAt], [200, daemon.id, daemon.createdAt])
      const other = yield* call(HttpClientRequest.get("/me/daemons/hd-nothere0/connection-ticket"))
      assert.strictEqual(other.status, 404)
      assert.include(other.body.message, "hd-nothere0")
      // this server is assembled without networking: no P2P grants
      const ticket = yield* call(HttpClientRequest.get(`/me/daemons/${daemon.id}/connection-ticket`))
      assert.strictEqual(ticket.status, 409)
      assert.include(ticket.body.message, "P2P")
      yield* post("/sandbox-deploy", { name: "listed" })
      const sandboxes = yield* call(HttpClientRequest.get(`/me/daemons/${daemon.id}/sandboxes`))
      assert.strictEqual(sandboxes.body.daemonId, daemon.id)
      assert.deepStrictEqual(sandboxes.body.sandboxes.map((s: { name: string }) => s.name), ["listed"])
      const capabilities = yield* call(HttpClientRequest.get("/capabilities"))
      assert.include(capabilities.body.features, "daemons")
      assert.notInclude(capabilities.body.features, "p2p")
    }).pipe(Effect.provide(server())))
})
