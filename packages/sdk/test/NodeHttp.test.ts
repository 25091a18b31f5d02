/**
 * The SDK over a real HTTP client (undici) and a real loopback server, to check what a mock
 * cannot: real headers, real connection failures, real request timeouts.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Commands from "../src/Commands.js"
import * as HeyoClient from "../src/HeyoClient.js"
import * as Sandbox from "../src/Sandbox.js"

const server = (handler: http.RequestListener) =>
  Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const s = http.createServer(handler)
      s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
    }),
    (s) => Effect.async<void>((resume) => {
      s.closeAllConnections()
      s.close(() => resume(Effect.void))
    })
  ).pipe(Effect.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/`))

const sdkAt = (baseUrl: string, timeout?: Duration.DurationInput) =>
  Sandbox.layer.pipe(
    Layer.provide(HeyoClient.layer({ baseUrl, apiKey: Redacted.make("k"), timeout })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

describe("over undici", () => {
  it.scopedLive("sends the bearer and decodes a real response", () =>
    Effect.gen(function*() {
      const seen: Array<string | undefined> = []
      const url = yield* server((req, res) => {
        seen.push(req.headers.authorization)
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ stdout: "hi\n", exit_code: 0 }))
      })
      const result = yield* Commands.run("sb-1", "echo hi").pipe(Effect.provide(sdkAt(url)))
      assert.strictEqual(result.stdout, "hi\n")
      assert.deepStrictEqual(seen, ["Bearer k"])
    }))

  it.live("a refused connection is Connection", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Commands.run("sb-1", "true").pipe(Effect.provide(sdkAt("http://127.0.0.1:1"))))
      assert.strictEqual(e._tag, "Connection")
    }))

  it.scopedLive("a server that never answers is Timeout", () =>
    Effect.gen(function*() {
      const url = yield* server(() => {})
      const e = yield* Effect.flip(Commands.run("sb-1", "true").pipe(Effect.provide(sdkAt(url, "200 millis"))))
      assert.strictEqual(e._tag, "Timeout")
    }))
})
