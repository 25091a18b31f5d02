/**
 * Where the P2P tunnel's time goes (issue 6, item 4): two iroh endpoints in this one process,
 * loopback only (minimal preset, relays disabled, bound to 127.0.0.1 and [::1]), no heyod.
 *
 * @number0/iroh 1.1.0 takes and returns bytes as `Array<number>` (napi-rs `Vec<u8>`), so each byte
 * crosses the napi boundary as one JS number. The sections:
 * - js: the JS-side conversions alone (Buffer -> number array -> Buffer).
 * - boundary: which values `SendStream.writeAll` accepts (a Buffer? a Uint8Array?), and the
 *   synchronous cost of handing it a number array (napi-rs reads the array element by element
 *   before the call returns its promise).
 * - raw: iroh alone with pre-built number arrays: write size, read size, writes in flight,
 *   parallel streams. Writer and reader share this process's one JS thread, as in `pnpm bench`
 *   where heyod runs in the bench's process.
 * - duplex: `BiStream.toDuplex` on both ends, Buffers in and out (what tunnels use).
 * - split: the same with the sender in a child process, as between a Heyo client and heyod: each
 *   side's JS thread pays only its own half of the conversions.
 *
 * BENCH_P2P_BOUNDARY_MIB (default 16) per transfer; BENCH_P2P_BOUNDARY_ONLY=js,boundary,raw,duplex,split
 * to run some sections. Run with `tsx bench/p2p-boundary.ts`.
 */
import { BiStream } from "@heyo-effect/p2p"
import * as Iroh from "@heyo-effect/p2p/Iroh"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as readline from "node:readline"
import { Readable, Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { fileURLToPath } from "node:url"
import { clock, mibPerSecond } from "./support/Measure.js"

const KiB = 1024
const MiB = 1024 * KiB
const totalMiB = Number(process.env["BENCH_P2P_BOUNDARY_MIB"] ?? 16)
const only = process.env["BENCH_P2P_BOUNDARY_ONLY"]?.split(",")
const runs = (section: string) => only === undefined || only.includes(section)
const alpn = Array.from(Buffer.from("heyo-bench/boundary/0"))

const size = (n: number) => (n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`)
const line = (what: string, value: string) => console.log(`  ${what.padEnd(52)} ${value}`)

/** Best of `repeat` runs of `f` over `bytes`; MiB/s. */
const rate = (bytes: number, f: () => void, repeat = 5) => {
  let best = Infinity
  for (let i = 0; i < repeat; i++) {
    const started = clock()
    f()
    best = Math.min(best, clock() - started)
  }
  return mibPerSecond(bytes, best)
}

/**
 * CPU milliseconds so far of this process's JS thread and of iroh's tokio workers, from
 * /proc/self/task (Linux; zeros elsewhere). Wall-clock rates swing with the machine's load, CPU
 * per MiB much less.
 */
const threadCpu = () => {
  const ticks = { js: 0, iroh: 0 }
  const tasks = (() => {
    try {
      return fs.readdirSync("/proc/self/task")
    } catch {
      return []
    }
  })()
  for (const task of tasks) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${task}/stat`, "utf8")
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // utime and stime, fields 14 and 15 of stat, in clock ticks (USER_HZ, 100 on Linux)
      const used = (Number(fields[11]) + Number(fields[12])) * 10
      if (Number(task) === process.pid) ticks.js += used
      else if (name.startsWith("tokio")) ticks.iroh += used
    } catch {
      // the thread ended meanwhile
    }
  }
  return ticks
}

/** Runs `f` (which moves `bytes`); MiB/s and CPU ms per MiB of the JS thread and of iroh's threads. */
const measured = async (bytes: number, f: () => Promise<void>) => {
  const before = threadCpu()
  const started = clock()
  await f()
  const elapsed = clock() - started
  const after = threadCpu()
  const perMiB = (ms: number) => (ms / (bytes / MiB)).toFixed(0).padStart(4)
  return `${mibPerSecond(bytes, elapsed).toFixed(1).padStart(6)} MiB/s   js ${perMiB(after.js - before.js)} ms/MiB   iroh ${perMiB(after.iroh - before.iroh)} ms/MiB`
}

const endpoint = async (iroh: Iroh.Module) => {
  const builder = iroh.Endpoint.builder()
  iroh.presetMinimal(builder)
  builder.relayMode(iroh.RelayMode.disabled())
  builder.bindAddr("127.0.0.1:0")
  builder.bindAddr("[::1]:0")
  return builder.bind()
}

// the bench's package does not depend on @number0/iroh itself: its types come through the wrapper
type IrohBiStream = InstanceType<Iroh.Module["BiStream"]>

interface Pair {
  readonly open: () => Promise<{ readonly local: IrohBiStream; readonly remote: IrohBiStream }>
  readonly close: () => Promise<void>
}

/** One QUIC connection between two loopback endpoints; `open` makes a bi stream known to both. */
const pair = async (iroh: Iroh.Module): Promise<Pair> => {
  const server = await endpoint(iroh)
  const client = await endpoint(iroh)
  server.setAlpns([alpn])
  const accepted = server.acceptNext().then(async (incoming) => (await (await incoming!.accept()).connect()))
  const outgoing = await client.connect(server.addr(), alpn)
  const incoming = await accepted
  return {
    open: async () => {
      const local = await outgoing.openBi()
      // a QUIC stream reaches the peer with its first byte
      await local.send.writeAll([0])
      const remote = await incoming.acceptBi()
      const first = await remote.recv.readExact(1)
      if (first.length !== 1) throw new Error("no first byte")
      return { local, remote }
    },
    close: async () => {
      outgoing.close(0n, [])
      await Promise.all([client.close(), server.close()])
    }
  }
}

const js = () => {
  console.log("\njs: conversions alone (best of 5, MiB/s); BiStream uses the reused array and allocUnsafe + set")
  for (const n of [16 * KiB, 64 * KiB, 1 * MiB]) {
    const buffer = Buffer.alloc(n, 7)
    const array = Array.from(buffer)
    const reused = new Array<number>(n).fill(0)
    const eight = (f: () => unknown) => rate(n * 8, () => { for (let i = 0; i < 8; i++) f() }).toFixed(0)
    line(`Buffer -> array: Array.from ${size(n)}`, eight(() => Array.from(buffer)))
    line(`Buffer -> array: loop into new Array(n) ${size(n)}`, eight(() => {
      const out = new Array<number>(n)
      for (let i = 0; i < n; i++) out[i] = buffer[i]!
    }))
    line(`Buffer -> array: loop into a reused array ${size(n)}`, eight(() => {
      for (let i = 0; i < n; i++) reused[i] = buffer[i]!
    }))
    line(`array -> Buffer: Buffer.from ${size(n)}`, eight(() => Buffer.from(array)))
    line(`array -> Buffer: allocUnsafe + set ${size(n)}`, eight(() => Buffer.allocUnsafe(n).set(array)))
  }
}

const boundary = async (link: Pair) => {
  console.log("\nboundary: what SendStream.writeAll accepts")
  const candidates: ReadonlyArray<readonly [string, unknown]> = [
    ["Array<number>", [1, 2, 3]],
    ["Buffer", Buffer.from([1, 2, 3])],
    ["Uint8Array", new Uint8Array([1, 2, 3])],
    ["array-like object", { length: 3, 0: 1, 1: 2, 2: 3 }]
  ]
  for (const [what, value] of candidates) {
    const { local, remote } = await link.open()
    // napi-rs checks its arguments before it makes the promise: a refusal throws synchronously
    const outcome = await Promise.resolve().then(() => local.send.writeAll(value as Array<number>)).then(async () => {
      await local.send.finish()
      const got = await remote.recv.readToEnd(1024)
      return `accepted, peer got [${got.join(",")}]`
    }, (error: Error) => `refused: ${error.message}`)
    line(what, outcome)
  }
  console.log("\nboundary: synchronous cost of writeAll(number array) (napi-rs Vec<u8> from an Array)")
  for (const n of [16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB]) {
    const { local, remote } = await link.open()
    const array = new Array<number>(n).fill(7)
    let syncMs = 0
    const count = Math.max(4, (4 * MiB) / n)
    const drained = (async () => {
      let got = 0
      while (got < count * n) got += (await remote.recv.read(MiB)).length
    })()
    for (let i = 0; i < count; i++) {
      const started = clock()
      const written = local.send.writeAll(array)
      syncMs += clock() - started
      await written
    }
    await drained
    line(`writeAll(${size(n)} array), JS thread blocked`, `${(syncMs / count).toFixed(2)} ms per call = ${mibPerSecond(count * n, syncMs).toFixed(0)} MiB/s`)
  }
  console.log("\nboundary: read(64 KiB) with the bytes already received (napi-rs Vec<u8> to an Array)")
  for (let round = 0; round < 3; round++) {
    const { local, remote } = await link.open()
    // 512 KiB: within the stream's flow-control window, so all of it arrives before the reads
    const pieces = 8
    const array = new Array<number>(64 * KiB).fill(7)
    for (let i = 0; i < pieces; i++) await local.send.writeAll(array)
    await new Promise((resolve) => setTimeout(resolve, 200))
    let got = 0
    let reads = 0
    const started = clock()
    while (got < pieces * 64 * KiB) {
      got += (await remote.recv.read(64 * KiB)).length
      reads++
    }
    const elapsed = clock() - started
    line(`round ${round + 1}`, `${(elapsed / reads).toFixed(2)} ms per read (${reads} reads) = ${mibPerSecond(got, elapsed).toFixed(1)} MiB/s`)
  }
}

class OutOfOrder extends Error {}

/** Moves `bytes` over `streams` parallel streams with pre-built arrays. */
const transfer = async (link: Pair, options: { write: number; read: number; inFlight: number; streams: number; verify?: boolean }) => {
  const bytes = totalMiB * MiB
  const perStream = Math.floor(bytes / options.streams / options.write) * options.write
  const chunks = Array.from({ length: options.inFlight }, (_, i) => new Array<number>(options.write).fill(i % 251))
  const opened = await Promise.all(Array.from({ length: options.streams }, () => link.open()))
  return measured(perStream * options.streams, () => Promise.all(opened.map(async ({ local, remote }) => {
    const writer = (async () => {
      // each writer keeps `inFlight` writeAll calls pending; chunk k holds the byte k % inFlight
      let next = 0
      const count = perStream / options.write
      const lane = async () => {
        while (next < count) {
          const k = next++
          await local.send.writeAll(chunks[k % options.inFlight]!)
        }
      }
      await Promise.all(Array.from({ length: options.inFlight }, lane))
      await local.send.finish()
    })()
    let got = 0
    let misordered = 0
    while (true) {
      const chunk = await remote.recv.read(options.read)
      if (chunk.length === 0) break
      if (options.verify === true) {
        for (let i = 0; i < chunk.length; i++) {
          if (chunk[i] !== (Math.floor((got + i) / options.write) % options.inFlight) % 251) misordered++
        }
      }
      got += chunk.length
    }
    await writer
    if (got !== perStream) throw new Error(`got ${got} of ${perStream}`)
    if (misordered > 0) throw new OutOfOrder(`${misordered} bytes out of order with ${options.inFlight} writes in flight`)
  })).then(() => undefined))
}

const raw = async (link: Pair) => {
  console.log(`\nraw: iroh with pre-built number arrays, ${totalMiB} MiB per transfer`)
  for (const write of [16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB]) {
    line(`write ${size(write)}, read 64 KiB`, await transfer(link, { write, read: 64 * KiB, inFlight: 1, streams: 1 }))
  }
  for (const read of [16 * KiB, 256 * KiB, 1 * MiB, 4 * MiB]) {
    line(`write 64 KiB, read ${size(read)}`, await transfer(link, { write: 64 * KiB, read, inFlight: 1, streams: 1 }))
  }
  for (const inFlight of [2, 4]) {
    line(`write 64 KiB x ${inFlight} in flight, read 64 KiB`, await transfer(link, { write: 64 * KiB, read: 64 * KiB, inFlight, streams: 1 }))
  }
  for (const streams of [2, 4, 8]) {
    line(`${streams} parallel streams, write 64 KiB, read 64 KiB`, await transfer(link, { write: 64 * KiB, read: 64 * KiB, inFlight: 1, streams }))
  }
  // tokio may poll two pending writeAll futures in either order: check whether bytes reorder
  let reordered = 0
  for (let i = 0; i < 5; i++) {
    await transfer(link, { write: 16 * KiB, read: 64 * KiB, inFlight: 4, streams: 1, verify: true }).catch((error) => {
      if (!(error instanceof OutOfOrder)) throw error
      reordered++
    })
  }
  line("4 writes in flight: transfers with bytes out of order", `${reordered} of 5`)
}

/** `total` bytes in 64 KiB Buffers, as a TCP socket hands them to a tunnel. */
const source = (total: number) => {
  const chunk = Buffer.alloc(64 * KiB, 120)
  return Readable.from((function*() {
    for (let sent = 0; sent < total; sent += chunk.length) yield chunk
  })())
}

/** Counts what `stream` delivers; fails unless it is `total` bytes. */
const sink = async (stream: NodeJS.ReadableStream, total: number) => {
  let got = 0
  await pipeline(stream, new Writable({
    write(data: Buffer, _encoding, callback) {
      got += data.length
      callback()
    }
  }))
  if (got !== total) throw new Error(`got ${got} of ${total}`)
}

const duplex = async (link: Pair) => {
  console.log(`\nduplex: BiStream.toDuplex both ends, Buffers of 64 KiB, ${totalMiB} MiB per transfer`)
  for (const streams of [1, 4]) {
    const opened = await Promise.all(Array.from({ length: streams }, () => link.open()))
    const perStream = (totalMiB * MiB) / streams
    const result = await measured(totalMiB * MiB, () => Promise.all(opened.map(async ({ local, remote }) => {
      const sender = BiStream.toDuplex(local)
      await Promise.all([pipeline(source(perStream), sender), sink(BiStream.toDuplex(remote), perStream)])
      sender.destroy()
    })).then(() => undefined))
    line(`${streams} stream(s)`, result)
  }
}

const senderRole = "BENCH_P2P_BOUNDARY_SENDER"

/** The child of `split`: serves one stream and sends `total` bytes through `toDuplex` on it. */
const sender = async (iroh: Iroh.Module, total: number) => {
  const server = await endpoint(iroh)
  server.setAlpns([alpn])
  console.log(iroh.EndpointTicket.fromAddr(server.addr()).toString())
  const incoming = await server.acceptNext()
  const connection = await (await incoming!.accept()).connect()
  const bi = await connection.acceptBi()
  await bi.recv.readExact(1)
  const stream = BiStream.toDuplex(bi)
  const before = threadCpu()
  await pipeline(source(total), stream)
  const after = threadCpu()
  console.log(JSON.stringify({ js: after.js - before.js, iroh: after.iroh - before.iroh }))
  // the receiver closes the connection once it has every byte
  await connection.closed()
  await server.close()
}

const split = async (iroh: Iroh.Module) => {
  const total = totalMiB * MiB
  console.log(`\nsplit: BiStream.toDuplex, sender in a child process, ${totalMiB} MiB`)
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, [senderRole]: String(total) },
    stdio: ["ignore", "pipe", "inherit"]
  })
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const ticket = (await lines.next()).value as string
  const client = await endpoint(iroh)
  try {
    const connection = await client.connect(iroh.EndpointTicket.fromString(ticket).endpointAddr(), alpn)
    const bi = await connection.openBi()
    await bi.send.writeAll([0])
    const receiver = BiStream.toDuplex(bi)
    const result = await measured(total, () => sink(receiver, total))
    const sent = JSON.parse((await lines.next()).value as string) as { js: number; iroh: number }
    connection.close(0n, [])
    receiver.destroy()
    line("receiver (this process)", result)
    line("sender (child process)", `${"".padStart(12)}   js ${(sent.js / totalMiB).toFixed(0).padStart(4)} ms/MiB   iroh ${(sent.iroh / totalMiB).toFixed(0).padStart(4)} ms/MiB`)
  } finally {
    await client.close()
    child.kill()
  }
}

const main = async () => {
  const iroh = Iroh.load()
  const role = process.env[senderRole]
  if (role !== undefined) return sender(iroh, Number(role))
  if (runs("js")) js()
  const link = await pair(iroh)
  try {
    if (runs("boundary")) await boundary(link)
    if (runs("raw")) await raw(link)
    if (runs("duplex")) await duplex(link)
  } finally {
    await link.close()
  }
  if (runs("split")) await split(iroh)
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
