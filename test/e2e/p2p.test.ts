/**
 * P2P tunnels end to end (issue 6): `POST /sandboxes/:id/tcp-tunnel` hands out a `heyo://` iroh
 * ticket; `Tunnel.connect` carries each local TCP connection on its own iroh bi stream (ALPN
 * `hey-proxy/tcp/0`) to heyod's endpoint for that grant, which splices it to the port inside the
 * sandbox. `GET /me/daemons/:id/connection-ticket` hands out a ticket to heyod's own API, and
 * `HeyoClient.layerP2p` drives heyod through it. Every endpoint uses the minimal preset with
 * relays disabled, bound to loopback.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Iroh from "@heyo-effect/p2p/Iroh"
import { Commands, Daemons, Files, HeyoClient, Sandbox, Tunnel } from "@heyo-effect/sdk"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Chunk from "effect/Chunk"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { startPythonServer } from "../support/SandboxServer.js"
import { echo, readUntilClose, refused } from "../support/TcpProbe.js"

const KEY = "p2p-tunnel-key"
const ECHO_PORT = 7000
const OTHER_PORT = 7001

/** Echoes on ECHO_PORT; answers "other" and closes on OTHER_PORT. */
const servers = `
import socket, threading
def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(256)
    return s
def echo(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
def other():
    s = listen(${OTHER_PORT})
    while True:
        c, _ = s.accept()
        c.recv(64)
        c.sendall(b"other")
        c.close()
threading.Thread(target=other, daemon=True).start()
s = listen(${ECHO_PORT})
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
`

describe("P2P (iroh, hey-proxy) tunnels to a sandbox port", () => {
  let heyod: Heyod.Heyod
  let sandboxId: string
  const layer = (timeout: Duration.DurationInput = "30 seconds") =>
    Sandbox.layer.pipe(
      Layer.provideMerge(HeyoClient.layer({ baseUrl: heyod.url, apiKey: Redacted.make(KEY), timeout })),
      Layer.provide(NodeHttpClient.layerUndici)
    )
  /** The SDK over heyod's daemon ticket: every call rides iroh to heyod's HTTP port. */
  const p2pLayer = (ticket: string, options?: HeyoClient.P2pClientOptions) =>
    Sandbox.layer.pipe(
      Layer.provideMerge(HeyoClient.layerP2p(ticket, { apiKey: Redacted.make(KEY), timeout: "30 seconds", ...options })),
      Layer.provide(NodeHttpClient.layerUndici)
    )
  const daemonTicket = Effect.gen(function*() {
    const daemons = yield* Daemons.list
    assert.strictEqual(daemons.length, 1)
    return { id: daemons[0]!.id, ticket: yield* Daemons.connectionTicket(daemons[0]!.id) }
  })
  const run = (command: string) => Effect.runPromise(Commands.run(sandboxId, command).pipe(Effect.provide(layer())))

  /** Waits until the sandbox's echo server has exactly `n` established connections (its netns's /proc/net/tcp). */
  const waitForEstablished = (n: number) =>
    Effect.gen(function*() {
      const count = `python3 -c "print(sum(1 for l in open('/proc/net/tcp').readlines()[1:] if l.split()[1].endswith(':%04X' % ${ECHO_PORT}) and l.split()[3] == '01'))"`
      let seen = ""
      for (let i = 0; i < 50; i++) {
        seen = (yield* Effect.promise(() => run(count))).stdout.trim()
        if (seen === String(n)) return
        yield* Effect.sleep("100 millis")
      }
      assert.fail(`${n} established connections to the echo server expected, ${seen} seen`)
    })

  /** Starts the servers (again after a restart: /tmp is fresh) and waits until both listen. */
  const startServers = async () => {
    await startPythonServer(run, "servers", servers, OTHER_PORT)
  }

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    sandboxId = await Effect.runPromise(
      Sandbox.create({ name: "e2e-p2p" }).pipe(Effect.map((s) => s.id as string), Effect.provide(layer()))
    )
    await startServers()
  })
  afterAll(async () => {
    if (heyod === undefined) return
    await heyod.stop()
    assert.deepStrictEqual(Heyod.leftovers(heyod.dataDir), { mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
  })

  it.live("Tunnel.connect(heyo://): 20 parallel connections each echo 1 MiB byte-exact; the Scope's end closes the listener and every open stream", () =>
    Effect.gen(function*() {
      const ticket = yield* Tunnel.ticket(sandboxId, ECHO_PORT)
      assert.match(ticket, /^heyo:\/\/endpoint[a-z2-7]+$/)
      assert.strictEqual(yield* Tunnel.ticket(sandboxId, ECHO_PORT), ticket, "the same ticket on a repeated call")
      const port = yield* Effect.scoped(Effect.gen(function*() {
        const tunnel = yield* Tunnel.connect(ticket)
        assert.strictEqual(tunnel.localUrl, `http://127.0.0.1:${tunnel.localPort}`)
        const results = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 20 }, async () => {
            const payload = crypto.randomBytes(1024 * 1024)
            const back = await echo(tunnel.localPort, payload)
            return back.equals(payload)
          }))
        )
        assert.deepStrictEqual(results.filter((ok) => !ok).length, 0)
        // connections left open when the Scope closes: their streams must end too
        for (let i = 0; i < 5; i++) {
          const socket = net.connect({ host: "127.0.0.1", port: tunnel.localPort })
          socket.on("error", () => undefined)
          socket.write("x")
        }
        yield* waitForEstablished(5)
        return tunnel.localPort
      }))
      assert.isTrue(yield* Effect.promise(() => refused(port)), "the listener is closed with its Scope")
      yield* waitForEstablished(0)
    }).pipe(Effect.provide(layer())), { timeout: 120_000 })

  it.live("a ticket for one port does not reach another; a revoked ticket is refused", () =>
    Effect.gen(function*() {
      const echoTicket = yield* Tunnel.ticket(sandboxId, ECHO_PORT)
      const otherTicket = yield* Tunnel.ticket(sandboxId, OTHER_PORT)
      assert.notStrictEqual(otherTicket, echoTicket)
      yield* Effect.scoped(Effect.gen(function*() {
        const other = yield* Tunnel.connect(otherTicket)
        const fromOther = yield* Effect.promise(() => readUntilClose(other.localPort, Buffer.from("ping")))
        assert.strictEqual(fromOther.toString(), "other")
        const viaEcho = yield* Tunnel.connect(echoTicket)
        const fromEcho = yield* Effect.promise(() => readUntilClose(viaEcho.localPort, Buffer.from("ping")))
        assert.strictEqual(fromEcho.toString(), "ping")
      }))

      yield* Tunnel.revoke(sandboxId, OTHER_PORT)
      const revoked = yield* Effect.flip(Effect.scoped(Tunnel.connect(otherTicket))).pipe(Effect.provide(layer("2 seconds")))
      assert.strictEqual(revoked._tag, "Connection")
      const fresh = yield* Tunnel.ticket(sandboxId, OTHER_PORT)
      assert.notStrictEqual(fresh, otherTicket, "a new endpoint after revocation")
      const invalid = yield* Effect.flip(Effect.scoped(Tunnel.connect(`heyo://${"a".repeat(70)}`)))
      assert.strictEqual(invalid._tag, "InvalidArgument")
    }).pipe(Effect.provide(layer())), { timeout: 60_000 })

  it.live("HeyoClient.layerP2p over the daemon ticket: create, run, stream, files and kill, all through iroh", () =>
    Effect.gen(function*() {
      const { id, ticket } = yield* daemonTicket.pipe(Effect.provide(layer()))
      assert.match(ticket, /^heyo:\/\/endpoint[a-z2-7]+$/)
      assert.strictEqual(yield* Daemons.connectionTicket(id).pipe(Effect.provide(layer())), ticket, "the same ticket on a repeated call")
      const result = yield* Effect.gen(function*() {
        const client = yield* HeyoClient.HeyoClient
        const sandbox = yield* Sandbox.create({ name: "e2e-p2p-client" })
        const ran = yield* Commands.run(sandbox.id, "echo over-p2p; uname -s")
        const streamed = yield* Commands.stream(sandbox.id, "for i in 1 2 3; do echo line $i; done").pipe(
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray)
        )
        const payload = crypto.randomBytes(3 * 1024 * 1024)
        yield* Files.write(sandbox.id, "/tmp/blob", payload)
        const back = yield* Files.read(sandbox.id, "/tmp/blob")
        const listed = yield* Daemons.listSandboxes(id)
        yield* Sandbox.kill(sandbox.id)
        return { baseUrl: client.baseUrl, ran, streamed, same: Buffer.from(back).equals(payload), listed }
      }).pipe(Effect.provide(p2pLayer(ticket)))
      assert.match(result.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.notStrictEqual(result.baseUrl, heyod.url, "the client talks to its tunnel, not to heyod's port")
      assert.strictEqual(result.ran.stdout, "over-p2p\nLinux\n")
      const stdout = result.streamed.flatMap((e) => e._tag === "Stdout" ? [Buffer.from(e.data).toString()] : []).join("")
      assert.strictEqual(stdout, "line 1\nline 2\nline 3\n")
      assert.deepInclude(result.streamed.map((e) => e._tag === "Exit" ? e.exitCode : undefined), 0)
      assert.isTrue(result.same, "3 MiB written and read back byte-exact")
      assert.include(result.listed.sandboxes.map((s) => s.name), "e2e-p2p-client")
      assert.strictEqual((yield* Sandbox.list().pipe(Effect.provide(layer()))).some((s) => s.name === "e2e-p2p-client"), false)
    }), { timeout: 120_000 })

  it.live("the daemon ticket opens the path, not the API: without the key it is Authentication; deleting the daemon through its own ticket revokes it", () =>
    Effect.gen(function*() {
      const { id, ticket } = yield* daemonTicket.pipe(Effect.provide(layer()))
      const keyless = yield* Effect.flip(Sandbox.list().pipe(Effect.provide(p2pLayer(ticket, { apiKey: Redacted.make("") }))))
      assert.strictEqual(keyless._tag, "Authentication")
      // revoked through the ticket itself: the answer still gets out, new connections are refused
      yield* Daemons.remove(id).pipe(Effect.provide(p2pLayer(ticket)))
      const refusedTicket = yield* Effect.flip(
        Sandbox.list().pipe(Effect.provide(p2pLayer(ticket, { timeout: "2 seconds" })))
      )
      assert.strictEqual(refusedTicket._tag, "Connection")
      const fresh = yield* daemonTicket.pipe(Effect.provide(layer()))
      assert.strictEqual(fresh.id, id, "the daemon keeps its id")
      assert.notStrictEqual(fresh.ticket, ticket, "a new endpoint after revocation")
      const listed = yield* Sandbox.list().pipe(Effect.provide(p2pLayer(fresh.ticket)))
      assert.isTrue(listed.some((s) => s.id === sandboxId))
      const unknown = yield* Effect.flip(Daemons.connectionTicket("hd-unknown0").pipe(Effect.provide(layer())))
      assert.strictEqual(unknown._tag, "NotFound")
    }), { timeout: 60_000 })

  it.live("short codes: heyo://host:port/code asks that broker, a bare code asks the relay given; unknown codes are InvalidArgument", () =>
    Effect.gen(function*() {
      const ticket = yield* Tunnel.ticket(sandboxId, ECHO_PORT)
      const { ticket: daemon } = yield* daemonTicket
      // Heyo's ticket broker, as reference/heyo-api.md §5 describes it: GET /api/lookup/<code> -> {ticket}
      const codes: Record<string, string> = { echo7000: ticket, daemon01: daemon.slice("heyo://".length) }
      const broker = http.createServer((request, response) => {
        const code = decodeURIComponent((request.url ?? "").replace(/^\/api\/lookup\//, ""))
        const found = codes[code]
        response.writeHead(found === undefined ? 404 : 200, { "content-type": "application/json" })
        response.end(JSON.stringify(found === undefined ? { message: "no such code" } : { ticket: found }))
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          broker.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () => Effect.sync(() => broker.close())
      )
      const brokerPort = (broker.address() as net.AddressInfo).port
      const viaHost = yield* Tunnel.connect(`heyo://127.0.0.1:${brokerPort}/echo7000`)
      const payload = crypto.randomBytes(100_000)
      assert.isTrue((yield* Effect.promise(() => echo(viaHost.localPort, payload))).equals(payload))
      const viaRelay = yield* Tunnel.connect("heyo://echo7000", { p2p: { relay: `http://127.0.0.1:${brokerPort}` } })
      assert.isTrue((yield* Effect.promise(() => echo(viaRelay.localPort, payload))).equals(payload))
      const listed = yield* Sandbox.list().pipe(Effect.provide(p2pLayer("heyo://daemon01", { relay: `http://127.0.0.1:${brokerPort}` })))
      assert.isTrue(listed.some((s) => s.id === sandboxId))
      const unknown = yield* Effect.flip(Tunnel.connect(`heyo://127.0.0.1:${brokerPort}/nothing`))
      assert.strictEqual(unknown._tag, "InvalidArgument")
      const noRelay = yield* Effect.flip(Tunnel.connect("heyo://echo7000"))
      assert.strictEqual(noRelay._tag, "InvalidArgument")
      assert.include(noRelay.message, "relay")
    }).pipe(Effect.scoped, Effect.provide(layer())), { timeout: 60_000 })

  it.live("a raw iroh client from reference/heyo-api.md §5 (ALPN hey-proxy/tcp/0, one bi stream, no framing) talks to heyod", () =>
    Effect.gen(function*() {
      const ticket = yield* Tunnel.ticket(sandboxId, ECHO_PORT)
      const echoed = yield* Effect.promise(async () => {
        const iroh = Iroh.load()
        const builder = iroh.Endpoint.builder()
        iroh.presetMinimal(builder)
        builder.relayMode(iroh.RelayMode.disabled())
        builder.bindAddr("127.0.0.1:0")
        const endpoint = await builder.bind()
        try {
          const addr = iroh.EndpointTicket.fromString(ticket.slice("heyo://".length)).endpointAddr()
          const connection = await endpoint.connect(addr, Array.from(Buffer.from("hey-proxy/tcp/0")))
          const bi = await connection.openBi()
          await bi.send.writeAll(Array.from(Buffer.from("raw bytes, no framing\n")))
          await bi.send.finish()
          const back = await bi.recv.readToEnd(1 << 20)
          connection.close(0n, [])
          return Buffer.from(back).toString()
        } finally {
          await endpoint.close()
        }
      })
      assert.strictEqual(echoed, "raw bytes, no framing\n")
    }).pipe(Effect.provide(layer())), { timeout: 60_000 })

  it.live("a heyod restart keeps the grants' endpoint ids: old tickets still work, and a live layerP2p client carries on", () =>
    Effect.gen(function*() {
      const ticket = yield* Tunnel.ticket(sandboxId, ECHO_PORT).pipe(Effect.provide(layer()))
      const daemon = yield* daemonTicket.pipe(Effect.provide(layer()))
      // one P2P client across the restart: its iroh connection dies with the old heyod
      yield* Effect.gen(function*() {
        assert.isTrue((yield* Sandbox.list()).some((s) => s.id === sandboxId))
        yield* Effect.promise(() => heyod.stop())
        // entries heyod cannot read are dropped with a warning, the rest still start
        const grantsFile = path.join(heyod.dataDir, "network", "p2p.json")
        const grants = JSON.parse(fs.readFileSync(grantsFile, "utf8")) as Record<string, unknown>
        fs.writeFileSync(grantsFile, JSON.stringify({ ...grants, "sb-junk:1": { nope: 1 }, "what:is:this": { secretKey: "x", udpPort: 1, udpPort6: 1 } }))
        heyod = yield* Effect.promise(() => Heyod.start({ apiKey: KEY, dataDir: heyod.dataDir }))
        assert.include(heyod.logs(), "dropping the unreadable P2P grant \"sb-junk:1\"")
        yield* Effect.gen(function*() {
          yield* Sandbox.waitForReady(sandboxId)
          yield* Effect.promise(startServers)
          assert.strictEqual(yield* Tunnel.ticket(sandboxId, ECHO_PORT), ticket, "the same ticket after the restart")
          yield* Effect.scoped(Effect.gen(function*() {
            const tunnel = yield* Tunnel.connect(ticket)
            const payload = crypto.randomBytes(64 * 1024)
            const back = yield* Effect.promise(() => echo(tunnel.localPort, payload))
            assert.isTrue(back.equals(payload))
          }))
          assert.deepStrictEqual(yield* daemonTicket, daemon, "the same daemon id and ticket after the restart")
        }).pipe(Effect.provide(layer()))
        const ran = yield* Commands.run(sandboxId, "echo still-here")
        assert.strictEqual(ran.stdout, "still-here\n", "the client made before the restart reaches the new heyod")
      }).pipe(Effect.provide(p2pLayer(daemon.ticket)))
      const listed = yield* Sandbox.list().pipe(Effect.provide(p2pLayer(daemon.ticket)))
      assert.isTrue(listed.some((s) => s.id === sandboxId), "the old daemon ticket reaches the restarted heyod")
    }), { timeout: 120_000 })
})

describe("heyod --p2p off", () => {
  let heyod: Heyod.Heyod
  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY, args: ["--p2p", "off"] })
  })
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it.live("no iroh endpoint: capabilities drop p2p, tunnels answer heyo+ws://, the daemon has no ticket (409)", () =>
    Effect.gen(function*() {
      const client = yield* HeyoClient.HeyoClient
      const { features } = yield* client.capabilities
      assert.include(features, "daemons")
      assert.notInclude(features, "p2p")
      const sandbox = yield* Sandbox.create({ name: "e2e-p2p-off" })
      assert.match(yield* Tunnel.ticket(sandbox.id, ECHO_PORT), /^heyo\+ws:\/\//)
      const [daemon] = yield* Daemons.list
      const noTicket = yield* Effect.flip(Daemons.connectionTicket(daemon!.id))
      assert.strictEqual(noTicket._tag, "Api")
      assert.strictEqual(noTicket._tag === "Api" ? noTicket.status : 0, 409)
      yield* Sandbox.kill(sandbox.id)
    }).pipe(
      Effect.provide(Sandbox.layer.pipe(
        Layer.provideMerge(HeyoClient.layer({ baseUrl: heyod.url, apiKey: Redacted.make(KEY) })),
        Layer.provide(NodeHttpClient.layerUndici)
      ))
    ), { timeout: 60_000 })
})
