/**
 * File transfer for `pnpm bench`: a local file of N MiB uploaded with `Files.write` (a Stream read
 * from disk -> PUT fs/write -> the file tool in the sandbox -> the sandbox's disk) and downloaded
 * with `Files.readStream` (-> a local file), each beside a local `cp` of the same file on the
 * host: what moving those bytes from disk to disk costs without heyod. Target: >= 50% of cp.
 *
 * BENCH_FILES_MIB (default 256) sets the size; BENCH_FILES_RUNS (default 3) the runs. Run alone
 * with `tsx bench/files.ts` (it starts its own heyod), or from bench/index.ts.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Files, HeyoClient, Sandbox } from "@heyo-effect/sdk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { clock, median } from "./support/Measure.js"
import { runAlone } from "./support/Standalone.js"

const MiB = 1024 * 1024
const sizeMiB = Number(process.env["BENCH_FILES_MIB"] ?? 256)
const runs = Number(process.env["BENCH_FILES_RUNS"] ?? 3)
const targetPercent = 50

const rate = (millis: number) => sizeMiB / (millis / 1000)

const row = (what: string, ours: ReadonlyArray<number>, base: ReadonlyArray<number>) => {
  const a = median(ours)
  const b = median(base)
  const share = (a / b) * 100
  return `${what.padEnd(34)} ${a.toFixed(0).padStart(6)} MiB/s ${b.toFixed(0).padStart(6)} MiB/s ${share.toFixed(0).padStart(5)}%` +
    `  target >= ${targetPercent}%: ${share >= targetPercent ? "met" : "MISSED"}`
}

/** The local file as a Stream, read as it is pulled. */
const fromFile = (file: string) =>
  Stream.fromAsyncIterable(
    fs.createReadStream(file, { highWaterMark: MiB }) as AsyncIterable<Buffer>,
    (error) => new Error(String(error))
  ).pipe(Stream.map((chunk) => new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)))

/** `cp` of the local file to a new one, synced like the transfers' files are not: page cache either way. */
const rawCopy = (from: string, to: string) =>
  Effect.sync(() => {
    const started = clock()
    execFileSync("cp", ["--", from, to])
    const millis = clock() - started
    fs.rmSync(to, { force: true })
    return millis
  })

export const filesBench = (url: string, dataDir: string) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.create({ name: `bench-files-${process.pid}`, sizeClass: "medium" })
    const local = path.join(dataDir, "bench-files-source")
    const back = path.join(dataDir, "bench-files-back")
    fs.writeFileSync(local, crypto.randomBytes(sizeMiB * MiB))
    const expected = crypto.createHash("sha256").update(fs.readFileSync(local)).digest("hex")

    const upload = (name: string) =>
      Effect.gen(function*() {
        const started = clock()
        yield* Files.write(sandbox.id, name, fromFile(local))
        return clock() - started
      })
    const download = (name: string) =>
      Effect.gen(function*() {
        const started = clock()
        const fd = fs.openSync(back, "w")
        yield* Files.readStream(sandbox.id, name).pipe(
          Stream.runForEach((chunk) => Effect.sync(() => fs.writeSync(fd, chunk))),
          Effect.ensuring(Effect.sync(() => fs.closeSync(fd)))
        )
        return clock() - started
      })

    // warm-up of every path (page cache, the first tool process, the first connection)
    yield* upload("/workspace/warm.bin")
    yield* download("/workspace/warm.bin")
    yield* rawCopy(local, `${local}.warm`)

    const up: Array<number> = []
    const down: Array<number> = []
    const cp: Array<number> = []
    for (let i = 0; i < runs; i++) {
      up.push(rate(yield* upload("/workspace/bench.bin")))
      down.push(rate(yield* download("/workspace/bench.bin")))
      cp.push(rate(yield* rawCopy(local, `${local}.copy`)))
    }
    const got = crypto.createHash("sha256").update(fs.readFileSync(back)).digest("hex")
    if (got !== expected) return yield* Effect.dieMessage("the downloaded file differs from the uploaded one")
    fs.rmSync(local, { force: true })
    fs.rmSync(back, { force: true })
    yield* sandbox.kill()

    yield* Console.log(`\n${`files, ${sizeMiB} MiB`.padEnd(34)} ${"heyo".padStart(12)} ${"local cp".padStart(12)} ${"heyo/cp".padStart(6)}`)
    yield* Console.log(row("Files.write (Stream from disk)", up, cp))
    yield* Console.log(row("Files.readStream (to disk)", down, cp))
    yield* Console.log(
      `medians of ${runs} transfers of each kind; cp = a local cp of the same file on the host (page cache warm);` +
        `\nthe transfers go SDK -> HTTP -> heyod -> the file tool joined into the sandbox, sha256 checked`
    )
  }).pipe(
    Effect.provide(Sandbox.layer.pipe(Layer.provide(HeyoClient.layer({ baseUrl: url })), Layer.provide(NodeHttpClient.layerUndici)))
  )

runAlone(import.meta.url, filesBench)
