/**
 * P2P tunnels for `pnpm bench` (issue 6): the same Node source server inside a sandbox and on the
 * host's loopback; each figure compares `Tunnel.connect` with a `heyo://` ticket (local listener
 * -> iroh QUIC over loopback -> heyod's endpoint for the grant -> forwarder -> the server), with a
 * `heyo+ws://` ticket (local listener -> WebSocket -> heyod -> forwarder -> the server), and the
 * host copy reached directly over loopback TCP.
 *
 * - throughput: N MiB read from the source through one connection.
 * - connection set-up: connect until the server's first byte, sequential (the iroh connection is
 *   already up: each TCP connection opens one more bi stream on it).
 *
 * The client sends one byte first on every connection: a QUIC stream reaches the peer with its
 * first byte, and hey-proxy has no handshake of its own (see Tunnel.ts). The servers ignore it.
 *
 * BENCH_P2P_MIB (default 64), BENCH_P2P_RUNS (default 3 transfers, 10x that many connections).
 * Run alone with `tsx bench/p2p.ts`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Commands, HeyoClient, Sandbox, Tunnel } from "@heyo-effect/sdk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { drain, freePort, hello } from "./support/TcpClient.js"
import { median } from "./support/Measure.js"
import { runAlone } from "./support/Standalone.js"

const MiB = 1024 * 1024
const sizeMiB = Number(process.env["BENCH_P2P_MIB"] ?? 64)
const runs = Number(process.env["BENCH_P2P_RUNS"] ?? 3)

/** argv: source port, hello port, bytes per source connection. */
const serverScript = `
const net = require("net")
const [source, hello, total] = process.argv.slice(2).map(Number)
const chunk = Buffer.alloc(65536, 120)
net.createServer((s) => {
  s.on("error", () => {})
  s.resume()
  let left = total
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length)
      left -= n
      if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return s.once("drain", pump)
    }
    s.end()
  }
  pump()
}).listen(source, "127.0.0.1")
net.createServer((s) => { s.on("error", () => {}); s.resume(); s.end("k") }).listen(hello, "127.0.0.1", () => console.log("ready"))
`

const opener = Buffer.from("g")
const rate = (millis: number) => sizeMiB / (millis / 1000)

const row = (what: string, p2p: number, ws: number, direct: number, unit: string) =>
  `${what.padEnd(34)} ${p2p.toFixed(1).padStart(9)} ${ws.toFixed(1).padStart(9)} ${direct.toFixed(1).padStart(9)} ${unit.padEnd(6)} ${(p2p / ws).toFixed(2).padStart(7)}x ${(p2p / direct).toFixed(2).padStart(7)}x`

export const p2pBench = (url: string) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.create({ name: `bench-p2p-${process.pid}`, sizeClass: "large" })
    const script = fs.mkdtempSync(path.join(os.tmpdir(), "heyo-bench-p2p-"))
    fs.writeFileSync(path.join(script, "server.cjs"), serverScript)
    yield* Commands.runOrFail(sandbox.id, `cat > /tmp/server.cjs <<'EOF'\n${serverScript}\nEOF\nnohup node /tmp/server.cjs 7000 7001 ${sizeMiB * MiB} >/tmp/server.log 2>&1 &`)
    const ports = yield* Effect.promise(() => Promise.all([freePort(), freePort()]))
    const host = spawn(process.execPath, [path.join(script, "server.cjs"), ...ports.map(String), String(sizeMiB * MiB)], { stdio: ["ignore", "pipe", "inherit"] })
    yield* Effect.addFinalizer(() => Effect.sync(() => host.kill()))
    yield* Effect.promise(() => new Promise((resolve) => host.stdout!.once("data", resolve)))

    const figures = { p2pDrain: [] as Array<number>, wsDrain: [] as Array<number>, directDrain: [] as Array<number>, p2pHello: [] as Array<number>, wsHello: [] as Array<number>, directHello: [] as Array<number> }
    yield* Effect.scoped(Effect.gen(function*() {
      const p2pSource = yield* Tunnel.connect(yield* Tunnel.ticket(sandbox.id, 7000))
      const p2pGreet = yield* Tunnel.connect(yield* Tunnel.ticket(sandbox.id, 7001))
      const wsSource = yield* Tunnel.connect(yield* Tunnel.ticket(sandbox.id, 7000, { transport: "ws" }))
      const wsGreet = yield* Tunnel.connect(yield* Tunnel.ticket(sandbox.id, 7001, { transport: "ws" }))
      // warm-up: the server may still be starting
      for (let i = 0; i < 100; i++) {
        const ok = yield* Effect.promise(() => hello(wsGreet.localPort, opener).then(() => true, () => false))
        if (ok) break
        yield* Effect.sleep("100 millis")
      }
      yield* Effect.promise(() => drain(p2pSource.localPort, sizeMiB * MiB, opener))
      for (let i = 0; i < runs; i++) {
        figures.p2pDrain.push(rate(yield* Effect.promise(() => drain(p2pSource.localPort, sizeMiB * MiB, opener))))
        figures.wsDrain.push(rate(yield* Effect.promise(() => drain(wsSource.localPort, sizeMiB * MiB, opener))))
        figures.directDrain.push(rate(yield* Effect.promise(() => drain(ports[0]!, sizeMiB * MiB, opener))))
      }
      for (let i = 0; i < runs * 10; i++) {
        figures.p2pHello.push(yield* Effect.promise(() => hello(p2pGreet.localPort, opener)))
        figures.wsHello.push(yield* Effect.promise(() => hello(wsGreet.localPort, opener)))
        figures.directHello.push(yield* Effect.promise(() => hello(ports[1]!, opener)))
      }
    }))
    yield* sandbox.kill()
    fs.rmSync(script, { recursive: true, force: true })

    yield* Console.log(`\n${"P2P tunnels".padEnd(34)} ${"p2p".padStart(9)} ${"ws".padStart(9)} ${"direct".padStart(9)} ${"".padEnd(6)} ${"p2p/ws".padStart(8)} ${"p2p/dir".padStart(8)}`)
    yield* Console.log(row(`throughput (${sizeMiB} MiB)`, median(figures.p2pDrain), median(figures.wsDrain), median(figures.directDrain), "MiB/s"))
    yield* Console.log(row("connection set-up", median(figures.p2pHello), median(figures.wsHello), median(figures.directHello), "ms"))
    yield* Console.log(
      `medians; p2p = Tunnel.connect(heyo://) over iroh on loopback (minimal preset, no relay);\n` +
        `ws = Tunnel.connect(heyo+ws://); direct = the same Node server on the host's loopback\n` +
        `p2p is capped by @number0/iroh 1.1.0 moving bytes as number arrays (one napi call per byte each way),\n` +
        `both ends on this process's JS thread here: see bench/p2p-boundary.ts`
    )
  }).pipe(
    Effect.scoped,
    Effect.provide(Sandbox.layer.pipe(Layer.provideMerge(HeyoClient.layer({ baseUrl: url })), Layer.provide(NodeHttpClient.layerUndici)))
  )

runAlone(import.meta.url, p2pBench)
