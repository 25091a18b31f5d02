/**
 * Tunnels end to end: `Tunnel.open` (Sprites TCP proxy) and `Tunnel.connect` (a `heyo+ws://`
 * ticket from `POST /sandboxes/:id/tcp-tunnel`) to an echo server inside a real sandbox. Traffic
 * stays on loopback and in the sandbox's namespace: local listener -> WebSocket -> heyod -> the
 * sandbox's forwarder -> the echo server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Commands, Network, Sandbox, Tunnel } from "@heyo-effect/sdk"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import * as net from "node:net"
import { afterAll, beforeAll } from "vitest"
import WebSocket from "ws"
import * as Heyod from "../support/Heyod.js"
import { startPythonServer } from "../support/SandboxServer.js"
import { echo, refused } from "../support/TcpProbe.js"
import * as SdkClient from "./SdkClient.js"

const KEY = "network-tunnel-key"
const ECHO_PORT = 7000

const echoServer = `
import socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", ${ECHO_PORT}))
s.listen(256)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`

describe("tunnels to a sandbox port", () => {
  let heyod: Heyod.Heyod
  let sandboxId: string
  const layer = () => SdkClient.layer(heyod)
  const run = (command: string) => Effect.runPromise(Commands.run(sandboxId, command).pipe(Effect.provide(layer())))
  /** Established connections to the echo server, seen from inside the sandbox. */
  const echoConnections = async () => {
    const out = await run(`ss -Htn state established '( sport = :${ECHO_PORT} )' | wc -l`)
    return Number(out.stdout.trim())
  }

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    sandboxId = await Effect.runPromise(
      Sandbox.create({ name: "e2e-tunnel" }).pipe(Effect.map((s) => s.id as string), Effect.provide(layer()))
    )
    await startPythonServer(run, "echo", echoServer, ECHO_PORT)
  })
  afterAll(async () => {
    if (heyod === undefined) return
    await heyod.stop()
    assert.deepStrictEqual(Heyod.leftovers(heyod.dataDir), { mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
  })

  it.live("Tunnel.open: 50 parallel connections each echo 1 MiB byte-exact; the Scope's end closes everything", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.gen(function*() {
        const tunnel = yield* Tunnel.open(sandboxId, ECHO_PORT)
        assert.strictEqual(tunnel.localUrl, `http://127.0.0.1:${tunnel.localPort}`)
        const results = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 50 }, async () => {
            const payload = crypto.randomBytes(1024 * 1024)
            const back = await echo(tunnel.localPort, payload)
            return back.equals(payload)
          }))
        )
        assert.deepStrictEqual(results.filter((ok) => !ok).length, 0)
        // keep two connections open across the Scope's end
        yield* Effect.promise(async () => {
          const held = [net.connect({ host: "127.0.0.1", port: tunnel.localPort }), net.connect({ host: "127.0.0.1", port: tunnel.localPort })]
          for (const socket of held) socket.on("error", () => {})
          await Promise.all(held.map((socket) => new Promise((r) => socket.once("connect", r))))
          for (let i = 0; i < 100; i++) {
            if ((await echoConnections()) >= 2) break
            await new Promise((r) => setTimeout(r, 50))
          }
        })
        assert.isAtLeast(yield* Effect.promise(echoConnections), 2)
        return tunnel.localPort
      }))
      assert.isTrue(yield* Effect.promise(() => refused(port)), "the local port refuses connections after the Scope closed")
      // every WebSocket closed: the sandbox side of each connection is gone too
      let left = -1
      for (let i = 0; i < 50 && left !== 0; i++) {
        left = yield* Effect.promise(echoConnections)
        if (left !== 0) yield* Effect.sleep("50 millis")
      }
      assert.strictEqual(left, 0)
    }).pipe(Effect.provide(layer())), { timeout: 120_000 })

  it.live("a server that writes and closes at once: every byte of the tail arrives before the close", () =>
    Effect.gen(function*() {
      // 3 MiB then close, per connection: the end of the stream must cross every hop intact
      const source = "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n" +
        "s.bind(('127.0.0.1', 7002))\ns.listen(64)\nwhile True:\n    c, _ = s.accept()\n    c.sendall(b'x' * 3145731)\n    c.close()\n"
      yield* Effect.promise(() => run(`cat > /tmp/source.py <<'EOF'\n${source}EOF\nnohup python3 /tmp/source.py >/dev/null 2>&1 &`))
      yield* Sandbox.waitForPort(sandboxId, 7002, "10 seconds")
      const tunnel = yield* Tunnel.open(sandboxId, 7002)
      const sizes = yield* Effect.promise(() =>
        Promise.all(Array.from({ length: 10 }, () =>
          new Promise<number>((resolve, reject) => {
            let got = 0
            const socket = net.connect({ host: "127.0.0.1", port: tunnel.localPort })
            socket.on("data", (chunk: Buffer) => (got += chunk.length))
            socket.on("error", reject)
            socket.on("close", () => resolve(got))
          })))
      )
      assert.deepStrictEqual(sizes, Array.from({ length: 10 }, () => 3145731))
    }).pipe(Effect.scoped, Effect.provide(layer())), { timeout: 60_000 })

  it.live("Tunnel.open to a port nobody listens on: the local connection is closed", () =>
    Effect.scoped(Effect.gen(function*() {
      const tunnel = yield* Tunnel.open(sandboxId, 7999)
      const closed = yield* Effect.promise(() =>
        new Promise<string>((resolve) => {
          const socket = net.connect({ host: "127.0.0.1", port: tunnel.localPort })
          socket.on("data", () => resolve("data"))
          socket.on("error", () => resolve("closed"))
          socket.on("close", () => resolve("closed"))
        })
      )
      assert.strictEqual(closed, "closed")
    })).pipe(Effect.provide(layer())))

  it.live("tcp-tunnel ticket: heyo+ws://, stable, works with Tunnel.connect without the key; revoked is refused", () =>
    Effect.gen(function*() {
      const ticket = yield* Tunnel.ticket(sandboxId, ECHO_PORT, { transport: "ws" })
      assert.match(ticket, /^heyo\+ws:\/\/127\.0\.0\.1:\d+\/tunnels\/sb-[0-9a-z]{8}\/7000\?grant=[A-Za-z0-9_-]{22}$/)
      assert.strictEqual(yield* Tunnel.ticket(sandboxId, ECHO_PORT, { transport: "ws" }), ticket, "the same ticket on a repeated call")

      // a client with no API key at all
      const anonymous = SdkClient.layer(heyod, { apiKey: null })
      yield* Effect.scoped(Effect.gen(function*() {
        const tunnel = yield* Tunnel.connect(ticket)
        const payload = crypto.randomBytes(256 * 1024)
        const back = yield* Effect.promise(() => echo(tunnel.localPort, payload))
        assert.isTrue(back.equals(payload))
      })).pipe(Effect.provide(anonymous))

      // the ticket opens that port only
      const other = ticket.replace("/7000?", "/22?")
      const wrongPort = yield* Effect.flip(Effect.scoped(Tunnel.connect(other))).pipe(Effect.provide(anonymous))
      assert.strictEqual(wrongPort._tag, "Authentication")

      yield* Tunnel.revoke(sandboxId, ECHO_PORT)
      const revoked = yield* Effect.flip(Effect.scoped(Tunnel.connect(ticket))).pipe(Effect.provide(anonymous))
      assert.strictEqual(revoked._tag, "Authentication")
      // a raw WebSocket with the revoked grant is refused before the upgrade
      const parsed = new URL(ticket.replace(/^heyo\+ws:/, "ws:"))
      const status = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(parsed.toString())
          ws.on("unexpected-response", (req, res) => {
            resolve(res.statusCode ?? 0)
            req.destroy()
          })
          ws.on("open", () => {
            ws.close()
            resolve(101)
          })
          ws.on("error", () => {})
        })
      )
      assert.strictEqual(status, 401)
      const fresh = yield* Tunnel.ticket(sandboxId, ECHO_PORT, { transport: "ws" })
      assert.notStrictEqual(fresh, ticket, "a new grant after revocation")

      const invalid = yield* Effect.flip(Effect.scoped(Tunnel.connect("heyo://abcdef")))
      assert.strictEqual(invalid._tag, "InvalidArgument")
    }).pipe(Effect.provide(layer())))

  it.live("ports watch: Listed shows the echo server, then a port opens and closes; waitForPort resolves", () =>
    Effect.gen(function*() {
      const waiting = yield* Network.waitForPort(sandboxId, 7100, "20 seconds").pipe(Effect.fork)
      const events = yield* Network.watchPorts(sandboxId).pipe(
        Stream.takeUntil((e) => e._tag === "Closed" && e.port === 7100),
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray),
        Effect.timeout("20 seconds"),
        Effect.fork
      )
      yield* Effect.sleep("300 millis")
      yield* Commands.run(sandboxId, "nohup python3 -c \"import socket,time; s=socket.socket(); s.bind(('0.0.0.0', 7100)); s.listen(1); time.sleep(1.5)\" >/dev/null 2>&1 &")
      const opened = yield* Fiber.join(waiting)
      assert.strictEqual(opened.port, 7100)
      assert.strictEqual(opened.address, "0.0.0.0")
      assert.isAbove(opened.pid, 1)
      const seen = yield* Fiber.join(events)
      const first = seen[0]!
      assert.strictEqual(first._tag, "Listed")
      if (first._tag === "Listed") {
        assert.deepInclude(first.ports.map((p) => ({ port: p.port, address: p.address })), { port: ECHO_PORT, address: "127.0.0.1" })
        assert.notInclude(first.ports.map((p) => p.port), 3128, "heyod's own forwarder is not listed")
      }
      const tags = seen.slice(1).filter((e) => e._tag !== "Listed" && e.port === 7100).map((e) => e._tag)
      assert.deepStrictEqual(tags, ["Opened", "Closed"])
      const timeout = yield* Effect.flip(Network.waitForPort(sandboxId, 7199, "300 millis"))
      assert.strictEqual(timeout._tag, "Timeout")
    }).pipe(Effect.provide(layer())), { timeout: 60_000 })

  it.live("Sprites WSS /ports/watch on the raw wire: port_list first", () =>
    Effect.promise(async () => {
      const ws = new WebSocket(`${heyod.url.replace(/^http/, "ws")}/v1/sprites/e2e-tunnel/ports/watch`, {
        headers: { authorization: `Bearer ${KEY}` }
      })
      const first = await new Promise<string>((resolve, reject) => {
        ws.once("message", (d: Buffer) => resolve(d.toString()))
        ws.once("error", reject)
      })
      ws.close()
      const message = JSON.parse(first) as { type: string; ports: Array<Record<string, unknown>> }
      assert.strictEqual(message.type, "port_list")
      const echoPort = message.ports.find((p) => p["port"] === ECHO_PORT)!
      assert.deepStrictEqual(Object.keys(echoPort).sort(), ["address", "pid", "port"])
      assert.strictEqual(echoPort["address"], "127.0.0.1")
      assert.isNumber(echoPort["pid"])
    }))

  it.live("Sprites WSS /proxy on the raw wire: init frame, connected status, raw bytes", () =>
    Effect.promise(async () => {
      const url = `${heyod.url.replace(/^http/, "ws")}/v1/sprites/e2e-tunnel/proxy`
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${KEY}` } })
      const frames: Array<string | Buffer> = []
      await new Promise((resolve, reject) => {
        ws.once("open", resolve)
        ws.once("error", reject)
      })
      const next = () =>
        new Promise<string | Buffer>((resolve) => ws.once("message", (data: Buffer, binary) => resolve(binary ? data : data.toString())))
      ws.send(JSON.stringify({ host: "localhost", port: ECHO_PORT }))
      const status = await next()
      assert.deepStrictEqual(JSON.parse(String(status)), { status: "connected", target: `localhost:${ECHO_PORT}` })
      ws.send(Buffer.from("ping"))
      frames.push(await next())
      assert.isTrue(Buffer.isBuffer(frames[0]) && frames[0].toString() === "ping")
      ws.close(1000)

      const bad = new WebSocket(url, { headers: { authorization: `Bearer ${KEY}` } })
      await new Promise((resolve) => bad.once("open", resolve))
      const closed = new Promise<number>((resolve) => bad.once("close", (code) => resolve(code)))
      const reply = new Promise<string>((resolve) => bad.once("message", (d: Buffer) => resolve(d.toString())))
      bad.send(JSON.stringify({ host: "example.com", port: 80 }))
      assert.strictEqual(JSON.parse(await reply).status, "error")
      assert.strictEqual(await closed, 1011)
    }))
})
