/**
 * Networking for `pnpm bench`: the same small Node server runs inside a sandbox and on the
 * host's loopback, and each figure compares reaching the sandbox's copy through heyod with
 * reaching the host copy directly over loopback TCP (what the bytes cost without heyod).
 *
 * - tunnel throughput: N MiB read from a source server through `Tunnel.open` (local listener ->
 *   WebSocket -> heyod -> the sandbox's forwarder -> the server) vs directly.
 * - tunnel connection set-up: connect until the server's first byte, sequential.
 * - bound URL requests per second: `GET /` with keep-alive from 8 concurrent clients through
 *   `http://<sandbox>-8080.localhost:<port>/` (Host header) vs directly.
 *
 * BENCH_NET_MIB (default 256), BENCH_NET_RUNS (default 3 transfers, 10x that many connections),
 * BENCH_NET_REQUESTS (default 2000). Run alone with `tsx bench/network.ts`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Commands, HeyoClient, Network, Sandbox, Tunnel } from "@heyo-effect/sdk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { drain, freePort, hello } from "./support/TcpClient.js"
import { clock, median } from "./support/Measure.js"
import { runAlone } from "./support/Standalone.js"

const MiB = 1024 * 1024
const sizeMiB = Number(process.env["BENCH_NET_MIB"] ?? 256)
const runs = Number(process.env["BENCH_NET_RUNS"] ?? 3)
const requests = Number(process.env["BENCH_NET_REQUESTS"] ?? 2000)

/** argv: source port, hello port, http port, bytes per source connection. */
const serverScript = `
const net = require("net"), http = require("http")
const [source, hello, web, total] = process.argv.slice(2).map(Number)
const chunk = Buffer.alloc(65536, 120)
net.createServer((s) => {
  s.on("error", () => {})
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
net.createServer((s) => { s.on("error", () => {}); s.end("k") }).listen(hello, "127.0.0.1")
http.createServer((q, r) => r.end("ok")).listen(web, "127.0.0.1", () => console.log("ready"))
`

/** `requests` GETs, 8 at a time, keep-alive; requests per second. */
const requestRate = (port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
    let sent = 0
    let done = 0
    const started = clock()
    const next = () => {
      if (sent >= requests) return
      sent++
      http.get({ host: "127.0.0.1", port, path: "/", agent, headers: { host } }, (response) => {
        response.resume()
        response.on("end", () => {
          if (response.statusCode !== 200) return reject(new Error(`status ${response.statusCode}`))
          if (++done === requests) {
            agent.destroy()
            resolve(requests / ((clock() - started) / 1000))
          } else next()
        })
      }).on("error", reject)
    }
    for (let i = 0; i < 8; i++) next()
  })

/** heyo beside direct; the ratio is heyo/direct whichever way is better. */
const row = (what: string, ours: number, direct: number, unit: string) => {
  const ratio = ours / direct
  return `${what.padEnd(40)} ${ours.toFixed(1).padStart(9)} ${unit.padEnd(6)} ${direct.toFixed(1).padStart(9)} ${unit.padEnd(6)} ${ratio.toFixed(2).padStart(6)}x`
}

export const networkBench = (url: string) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.create({ name: `bench-net-${process.pid}`, sizeClass: "large" })
    const script = fs.mkdtempSync(path.join(os.tmpdir(), "heyo-bench-net-"))
    fs.writeFileSync(path.join(script, "server.cjs"), serverScript)
    yield* Commands.runOrFail(sandbox.id, `cat > /tmp/server.cjs <<'EOF'\n${serverScript}\nEOF\nnohup node /tmp/server.cjs 7000 7001 8080 ${sizeMiB * MiB} >/tmp/server.log 2>&1 &`)
    const ports = yield* Effect.promise(() => Promise.all([freePort(), freePort(), freePort()]))
    const host = spawn(process.execPath, [path.join(script, "server.cjs"), ...ports.map(String), String(sizeMiB * MiB)], { stdio: ["ignore", "pipe", "inherit"] })
    yield* Effect.addFinalizer(() => Effect.sync(() => host.kill()))
    yield* Effect.promise(() => new Promise((resolve) => host.stdout!.once("data", resolve)))
    const bound = yield* Network.bindPort(sandbox.id, 8080)
    const heyodPort = Number(new URL(url).port)

    const tunnelDrain: Array<number> = []
    const directDrain: Array<number> = []
    const tunnelHello: Array<number> = []
    const directHello: Array<number> = []
    let boundRate = 0
    let directRate = 0
    yield* Effect.scoped(Effect.gen(function*() {
      const source = yield* Tunnel.open(sandbox.id, 7000)
      const greet = yield* Tunnel.open(sandbox.id, 7001)
      // warm-up: the server may still be starting
      for (let i = 0; i < 100; i++) {
        const ok = yield* Effect.promise(() => hello(greet.localPort).then(() => true, () => false))
        if (ok) break
        yield* Effect.sleep("100 millis")
      }
      yield* Effect.promise(() => drain(source.localPort, sizeMiB * MiB))
      for (let i = 0; i < runs; i++) {
        tunnelDrain.push(sizeMiB / ((yield* Effect.promise(() => drain(source.localPort, sizeMiB * MiB))) / 1000))
        directDrain.push(sizeMiB / ((yield* Effect.promise(() => drain(ports[0]!, sizeMiB * MiB))) / 1000))
      }
      for (let i = 0; i < runs * 10; i++) {
        tunnelHello.push(yield* Effect.promise(() => hello(greet.localPort)))
        directHello.push(yield* Effect.promise(() => hello(ports[1]!)))
      }
      const boundHost = `${bound.subdomain}.localhost:${heyodPort}`
      yield* Effect.promise(() => requestRate(heyodPort, boundHost))
      boundRate = yield* Effect.promise(() => requestRate(heyodPort, boundHost))
      directRate = yield* Effect.promise(() => requestRate(ports[2]!, "127.0.0.1"))
    }))
    yield* sandbox.kill()
    fs.rmSync(script, { recursive: true, force: true })

    yield* Console.log(`\n${"networking".padEnd(40)} ${"heyo".padStart(16)} ${"direct".padStart(16)} ${"heyo/direct".padStart(6)}`)
    yield* Console.log(row(`tunnel throughput (${sizeMiB} MiB)`, median(tunnelDrain), median(directDrain), "MiB/s"))
    yield* Console.log(row("tunnel connection set-up", median(tunnelHello), median(directHello), "ms"))
    yield* Console.log(row("bound URL requests (8 clients)", boundRate, directRate, "req/s"))
    yield* Console.log(
      `medians; direct = the same Node server on the host's loopback, reached without heyod;\n` +
        `tunnel = Tunnel.open (local listener -> WebSocket -> heyod -> forwarder -> the sandbox's server)`
    )
  }).pipe(
    Effect.scoped,
    Effect.provide(Sandbox.layer.pipe(Layer.provide(HeyoClient.layer({ baseUrl: url })), Layer.provide(NodeHttpClient.layerUndici)))
  )

runAlone(import.meta.url, networkBench)
