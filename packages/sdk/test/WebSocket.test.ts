/**
 * The WebSocket connector and Commands.stream against a local `ws` server on 127.0.0.1:0: upgrade
 * refusals as typed errors, the bearer header, frame decoding, backpressure, interruption.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"
import * as Commands from "../src/Commands.js"
import * as ExecEvent from "../src/ExecEvent.js"
import * as HeyoClient from "../src/HeyoClient.js"

const KEY = "test-key"

interface Upgrade {
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
}

/** An HTTP server that answers `/capabilities` and hands upgrades to `onSocket`, or refuses them. */
const server = (options: {
  readonly features?: ReadonlyArray<string>
  readonly refuse?: { readonly status: number; readonly body: string }
  readonly onSocket?: (ws: WebSocket) => void
}) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly upgrades: Array<Upgrade>; readonly server: http.Server }>((resume) => {
      const upgrades: Array<Upgrade> = []
      const wss = new WebSocketServer({ noServer: true })
      const srv = http.createServer((req, res) => {
        res.setHeader("content-type", "application/json")
        res.end(JSON.stringify(req.url === "/capabilities" ? { features: options.features ?? ["exec-stream"] } : { message: "no" }))
      })
      srv.on("upgrade", (req, socket, head) => {
        upgrades.push({ url: req.url ?? "", headers: req.headers })
        if (options.refuse !== undefined) {
          socket.end(
            `HTTP/1.1 ${options.refuse.status} Refused\r\ncontent-type: application/json\r\n` +
              `content-length: ${Buffer.byteLength(options.refuse.body)}\r\nconnection: close\r\n\r\n${options.refuse.body}`
          )
          return
        }
        wss.handleUpgrade(req, socket, head, (ws) => options.onSocket?.(ws))
      })
      srv.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, upgrades, server: srv })))
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const client = (url: string) =>
  Commands.layer.pipe(
    Layer.provideMerge(HeyoClient.layer({ baseUrl: url, apiKey: Redacted.make(KEY) })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const connect = (path = "/v1/sprites/sb-1/exec") =>
  Effect.flatMap(HeyoClient.HeyoClient, (c) => c.webSocket({ path, query: [["cmd", "a"], ["cmd", "b c"]] }))

const frame = (id: number, bytes: Uint8Array | string) =>
  Buffer.concat([Buffer.of(id), typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes)])

describe("WebSocket connector: upgrade refusals", () => {
  const refused = (status: number, body: string) =>
    Effect.gen(function*() {
      const { url } = yield* server({ refuse: { status, body } })
      return yield* connect().pipe(Effect.scoped, Effect.flip, Effect.provide(client(url)))
    })

  it.scoped("404 is NotFound with the body's message", () =>
    Effect.gen(function*() {
      const error = yield* refused(404, JSON.stringify({ error: "not_found", message: "sprite not found: sb-1" }))
      assert.strictEqual(error._tag, "NotFound")
      assert.include(error.message, "sprite not found: sb-1")
    }))

  it.scoped("401 and 403 are Authentication", () =>
    Effect.gen(function*() {
      const e401 = yield* refused(401, JSON.stringify({ error: "unauthorized", message: "invalid API key" }))
      assert.strictEqual(e401._tag, "Authentication")
      assert.include(e401.message, "invalid API key")
      const e403 = yield* refused(403, "")
      assert.strictEqual(e403._tag, "Authentication")
    }))

  it.scoped("other statuses are Api with the parsed body", () =>
    Effect.gen(function*() {
      const body = { error: "conflict", message: "sandbox sb-1 is stopped" }
      const error = yield* refused(409, JSON.stringify(body))
      assert.strictEqual(error._tag, "Api")
      if (error._tag === "Api") {
        assert.strictEqual(error.status, 409)
        assert.deepStrictEqual(error.body, body)
      }
    }))

  it.scoped("nobody listening is Connection", () =>
    Effect.gen(function*() {
      const error = yield* connect().pipe(Effect.scoped, Effect.flip, Effect.provide(client("http://127.0.0.1:1")))
      assert.strictEqual(error._tag, "Connection")
    }))
})

describe("WebSocket connector: an open socket", () => {
  it.scoped("sends the bearer header and repeated query keys", () =>
    Effect.gen(function*() {
      const { upgrades, url } = yield* server({ onSocket: (ws) => ws.close(1000) })
      yield* connect().pipe(Effect.flatMap((c) => Stream.runDrain(c.messages)), Effect.scoped, Effect.provide(client(url)))
      assert.strictEqual(upgrades[0]?.headers["authorization"], `Bearer ${KEY}`)
      assert.strictEqual(upgrades[0]?.url, "/v1/sprites/sb-1/exec?cmd=a&cmd=b+c")
    }))

  it.live("stops reading while the consumer is behind", () =>
    Effect.gen(function*() {
      const chunk = Buffer.alloc(256 * 1024, 7)
      const total = 160
      let serverSide: WebSocket | undefined
      const { url } = yield* server({
        onSocket: (ws) => {
          serverSide = ws
          for (let i = 0; i < total; i++) ws.send(chunk)
          ws.close(1000)
        }
      })
      const received = yield* Effect.gen(function*() {
        const connection = yield* connect()
        const fiber = yield* connection.messages.pipe(
          Stream.zipWithIndex,
          Stream.tap(([, i]) => i === 0 ? Effect.sleep("600 millis") : Effect.void),
          Stream.runCount,
          Effect.fork
        )
        yield* Effect.sleep("300 millis")
        // 40 MiB were sent at once; with the client paused most of them still wait on the server.
        assert.isAbove(serverSide?.bufferedAmount ?? 0, 16 * 1024 * 1024)
        return yield* Fiber.join(fiber)
      }).pipe(Effect.scoped, Effect.provide(client(url)))
      assert.strictEqual(received, total)
    }).pipe(Effect.scoped))
})

describe("Commands.stream over a fake exec server", () => {
  it.scoped("decodes output and exit, skips session_info, sends stdin then EOF", () =>
    Effect.gen(function*() {
      const got: Array<Buffer> = []
      const { upgrades, url } = yield* server({
        onSocket: (ws) => {
          ws.send(JSON.stringify({ type: "session_info", session_id: "1", command: "x", created: 0, is_owner: true, tty: false }))
          ws.on("message", (data: Buffer) => {
            got.push(Buffer.from(data))
            if (data[0] === 4) {
              ws.send(frame(1, Buffer.concat(got.filter((f) => f[0] === 0).map((f) => f.subarray(1)))))
              ws.send(frame(2, "oops"))
              ws.send(Buffer.of(3, 7))
              ws.send(JSON.stringify({ type: "exit", exit_code: 7 }))
              ws.close(1000)
            }
          })
        }
      })
      const events = yield* Commands.stream("sb-1", "cat", {
        args: ["x"],
        env: { A: "1" },
        cwd: "/tmp",
        stdin: Stream.make(new TextEncoder().encode("he"), new TextEncoder().encode("llo"))
      }).pipe(Stream.runCollect, Effect.provide(client(url)))
      const decoded = Chunk.toArray(events).map((e) =>
        ExecEvent.$match(e, {
          Stdout: ({ data }) => `out:${Buffer.from(data)}`,
          Stderr: ({ data }) => `err:${Buffer.from(data)}`,
          Exit: ({ exitCode }) => `exit:${exitCode}`,
          OutputLost: ({ from, to }) => `lost:${from}-${to}`
        })
      )
      assert.deepStrictEqual(decoded, ["out:hello", "err:oops", "exit:7"])
      const query = new URL(upgrades[0]!.url, "http://x").searchParams
      assert.deepStrictEqual(query.getAll("cmd"), ["sh", "-c", "cat", "sh", "x"])
      assert.deepStrictEqual([query.get("dir"), query.getAll("env"), query.get("stdin")], ["/tmp", ["A=1"], "true"])
    }))

  it.scoped("a socket closed before the exit is a Connection error", () =>
    Effect.gen(function*() {
      const { url } = yield* server({ onSocket: (ws) => ws.send(frame(1, "partial"), () => ws.close(1011)) })
      const error = yield* Commands.stream("sb-1", "true").pipe(Stream.runDrain, Effect.flip, Effect.provide(client(url)))
      assert.strictEqual(error._tag, "Connection")
      assert.include(error.message, "1011")
    }))

  it.live("interrupting the consumer ends the command (TERM, KILL after the grace), then closes the socket", () =>
    Effect.gen(function*() {
      let closed = false
      const signals: Array<string> = []
      const { url } = yield* server({
        onSocket: (ws) => {
          ws.send(frame(1, "tick"))
          ws.on("message", (data, isBinary) => {
            if (!isBinary) signals.push((JSON.parse(String(data)) as { signal: string }).signal)
          })
          ws.on("close", () => (closed = true))
        }
      })
      yield* Commands.stream("sb-1", "sleep 1000", { killGrace: "100 millis" }).pipe(
        Stream.take(1),
        Stream.runDrain,
        Effect.provide(client(url))
      )
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 200)))
      assert.deepStrictEqual(signals, ["TERM", "KILL"])
      assert.isTrue(closed)
    }).pipe(Effect.scoped))

  it.scoped("a server without exec-stream is Unsupported, before any upgrade", () =>
    Effect.gen(function*() {
      const { upgrades, url } = yield* server({ features: [] })
      const error = yield* Commands.stream("sb-1", "true").pipe(Stream.runDrain, Effect.flip, Effect.provide(client(url)))
      assert.strictEqual(error._tag, "Unsupported")
      assert.strictEqual(upgrades.length, 0)
    }))
})

describe("a user-supplied standard WebSocket class", () => {
  it.live("carries the exchange, with the bearer offered as headers; a refusal is a Connection error", () =>
    Effect.gen(function*() {
      const { upgrades, url } = yield* server({
        onSocket: (ws) => ws.on("message", (data, isBinary) => ws.send(isBinary ? data : `echo:${String(data)}`))
      })
      const layer = HeyoClient.layer({
        baseUrl: url,
        apiKey: Redacted.make(KEY),
        webSocket: WebSocket as unknown as HeyoClient.WebSocketConstructor
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const received = yield* Effect.gen(function*() {
        const client = yield* HeyoClient.HeyoClient
        const connection = yield* client.webSocket({ path: "/echo", query: [["a", "1"]] })
        yield* connection.send("hi")
        yield* connection.send(Uint8Array.of(1, 2, 3))
        return yield* connection.messages.pipe(Stream.take(2), Stream.runCollect)
      }).pipe(Effect.scoped, Effect.provide(layer))
      const [text, bytes] = Chunk.toReadonlyArray(received)
      assert.strictEqual(text, "echo:hi")
      assert.deepStrictEqual([...(bytes as Uint8Array)], [1, 2, 3])
      assert.strictEqual(upgrades[0]!.url, "/echo?a=1")
      assert.strictEqual(upgrades[0]!.headers.authorization, `Bearer ${KEY}`)
    }).pipe(Effect.scoped))

  it.live("a refused upgrade fails with Connection (a standard WebSocket never sees the status)", () =>
    Effect.gen(function*() {
      const { url } = yield* server({ refuse: { status: 404, body: "{\"message\":\"nope\"}" } })
      const error = yield* HeyoClient.HeyoClient.pipe(
        Effect.flatMap((client) => client.webSocket({ path: "/x" })),
        Effect.scoped,
        Effect.flip,
        Effect.provide(HeyoClient.layer({ baseUrl: url, webSocket: WebSocket as unknown as HeyoClient.WebSocketConstructor }).pipe(
          Layer.provide(NodeHttpClient.layerUndici)
        ))
      )
      assert.strictEqual(error._tag, "Connection")
    }).pipe(Effect.scoped))
})
