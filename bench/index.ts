/**
 * `pnpm bench`: heyod's speed beside raw baselines measured in the same run, as medians and
 * ratios. Not part of CI (timings on a shared 2-core machine are noisy; ratios are the figure).
 * It only reports: a missed target is printed, never a failure.
 *
 * - create -> ready: `Sandbox.create` through the SDK and HTTP (which waits for `running`)
 *   against the runtime recipe run directly as a shell script (bench/raw-sandbox.sh).
 * - exec round trip: `Commands.run("true")` and `Commands.stream("true")` (to its Exit event)
 *   through the SDK against a raw Node spawn of the same join (cgroups, then nsenter into the
 *   same sandbox) running /bin/true. Target: <= 2x raw.
 * - stdout throughput: `head -c N /dev/zero` through `Commands.stream` (Stdout bytes counted)
 *   against the same command joined into the same sandbox and read through a Node child-process
 *   pipe, and a bare `ws` loopback transfer of the same N bytes in 64 KiB frames, the transport's
 *   own ceiling. Target: the stream >= 80% of that ceiling.
 * - checkpoints (bench/checkpoint.ts): `Checkpoint.create` and `Checkpoint.restore` of a sandbox
 *   holding 1 GiB written and synced, against `cp -a --reflink=auto` of its upper dir. Target:
 *   <= 300 ms each.
 * - files (bench/files.ts): a local file uploaded with `Files.write` (a Stream from disk) and
 *   downloaded with `Files.readStream` (to disk) through heyod's fs routes, against a local `cp`
 *   of the same file. Target: >= 50% of cp.
 * - networking (bench/network.ts): tunnel throughput and connection set-up through `Tunnel.open`,
 *   and requests per second through a bound URL, against the same server reached directly on
 *   the host's loopback.
 *
 * BENCH_RUNS (default 20) sets the number of runs of each round trip (creates: BENCH_RUNS,
 * execs: 2x); BENCH_STREAM_MIB (default 256) the bytes per transfer and BENCH_STREAM_RUNS
 * (default 5) the transfers of each kind.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Commands, HeyoClient, Sandbox } from "@heyo-effect/sdk"
import { Heyod } from "@heyo-effect/server"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { checkpointBench } from "./checkpoint.js"
import { databaseBench } from "./database.js"
import { filesBench } from "./files.js"
import { joinTargetOf, rawExec, rawPipeBytes } from "./join.js"
import { networkBench } from "./network.js"
import { p2pBench } from "./p2p.js"
import { streamBytes, wsLoopback } from "./stream.js"
import { median, mibPerSecond } from "./support/Measure.js"

const runs = Number(process.env["BENCH_RUNS"] ?? 20)
const streamMiB = Number(process.env["BENCH_STREAM_MIB"] ?? 256)
const streamRuns = Number(process.env["BENCH_STREAM_RUNS"] ?? 5)
const MiB = 1024 * 1024
const streamTotal = streamMiB * MiB
const producer = `head -c ${streamTotal} /dev/zero`
const rawScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "raw-sandbox.sh")

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = process.hrtime.bigint()
    const value = yield* effect
    return { value, millis: Number(process.hrtime.bigint() - started) / 1e6 }
  })

const rawCreate = (image: string, scratch: string, name: string) =>
  Effect.sync(() => execFileSync(rawScript, ["create", image, scratch, name], { encoding: "utf8" }))

const rawDestroy = (scratch: string, name: string) =>
  Effect.sync(() => execFileSync(rawScript, ["destroy", scratch, name]))

const col = 34

/** Milliseconds per run, heyo beside raw: lower is better; ratio heyo/raw. */
const timeRow = (what: string, ours: ReadonlyArray<number>, raw: ReadonlyArray<number>, target?: number) => {
  const a = median(ours)
  const b = median(raw)
  const ratio = a / b
  const verdict = target === undefined ? "" : `  target <= ${target}x: ${ratio <= target ? "met" : "MISSED"}`
  return `${what.padEnd(col)} ${a.toFixed(1).padStart(8)} ms  ${b.toFixed(1).padStart(8)} ms  ${ratio.toFixed(2).padStart(6)}x${verdict}`
}

/** MiB/s, heyo beside a baseline: higher is better; ratio heyo/baseline as a percentage. */
const rateRow = (what: string, ours: ReadonlyArray<number>, base: ReadonlyArray<number>, target?: number) => {
  const a = median(ours)
  const b = median(base)
  const share = (a / b) * 100
  const verdict = target === undefined ? "" : `  target >= ${target}%: ${share >= target ? "met" : "MISSED"}`
  return `${what.padEnd(col)} ${a.toFixed(0).padStart(6)} MiB/s ${b.toFixed(0).padStart(6)} MiB/s ${share.toFixed(0).padStart(5)}%${verdict}`
}

const main = Effect.gen(function*() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heyo-bench-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dataDir, { recursive: true, force: true })))
  const url = yield* Heyod.url.pipe(Effect.provide(yield* Layer.build(Heyod.layer({ port: 0, dataDir }))))
  const instanceId = fs.readFileSync(path.join(dataDir, "instance-id"), "utf8").trim()
  const image = path.join(dataDir, "state", "images", "host")
  const sdk = Sandbox.layer.pipe(Layer.provide(HeyoClient.layer({ baseUrl: url })), Layer.provide(NodeHttpClient.layerUndici))
  yield* Console.log(`heyod ${url}, ${runs} runs each, ${os.cpus().length} cores\n`)

  const results = yield* Effect.gen(function*() {
    // Warm-up: the first create pays for page-cache misses neither side should be charged.
    yield* Sandbox.create({ name: "warmup" }).pipe(Effect.flatMap((s) => s.kill()))

    const create: Array<number> = []
    const createRaw: Array<number> = []
    for (let i = 0; i < runs; i++) {
      const { value: sandbox, millis } = yield* timed(Sandbox.create({ name: `bench-${i}`, sizeClass: "micro" }))
      create.push(millis)
      yield* sandbox.kill()
      const scratch = fs.mkdtempSync(path.join(dataDir, "raw-"))
      const name = `heyo-bench-raw-${process.pid}-${i}`
      createRaw.push((yield* timed(rawCreate(image, scratch, name))).millis)
      yield* rawDestroy(scratch, name)
    }

    const sandbox = yield* Sandbox.create({ name: "bench-exec", sizeClass: "micro" })
    const target = joinTargetOf(instanceId, sandbox.id)
    const exec: Array<number> = []
    const execStream: Array<number> = []
    const execRaw: Array<number> = []
    // One warm-up of each path (first WebSocket upgrade, first nsenter), then interleaved runs.
    yield* sandbox.commands.run("true")
    yield* Commands.stream(sandbox.id, "true").pipe(Stream.runDrain)
    yield* rawExec(target)
    for (let i = 0; i < runs * 2; i++) {
      const ours = yield* timed(sandbox.commands.run("true"))
      if (ours.value.exitCode !== 0) return yield* Effect.dieMessage(`true exited ${ours.value.exitCode}`)
      exec.push(ours.millis)
      const streamed = yield* timed(streamBytes(sandbox.id, "true"))
      if (streamed.value.exitCode !== 0) return yield* Effect.dieMessage(`streamed true exited ${streamed.value.exitCode}`)
      execStream.push(streamed.millis)
      const raw = yield* timed(rawExec(target))
      if (raw.value !== 0) return yield* Effect.dieMessage(`raw true exited ${raw.value}`)
      execRaw.push(raw.millis)
    }
    yield* sandbox.kill()

    // Throughput in a sandbox with the whole machine's CPUs, so its quota is not what is measured
    // (both the stream's command and the raw join run in its cgroups).
    const big = yield* Sandbox.create({ name: "bench-stream", sizeClass: "medium" })
    const bigTarget = joinTargetOf(instanceId, big.id)
    const stream: Array<number> = []
    const pipe: Array<number> = []
    const ws: Array<number> = []
    const check = (what: string, bytes: number, exitCode: number) =>
      bytes === streamTotal && exitCode === 0
        ? Effect.void
        : Effect.dieMessage(`${what}: ${bytes} bytes (want ${streamTotal}), exit ${exitCode}`)
    for (let i = 0; i < streamRuns; i++) {
      const ours = yield* timed(streamBytes(big.id, producer))
      yield* check("Commands.stream", ours.value.bytes, ours.value.exitCode)
      stream.push(mibPerSecond(ours.value.bytes, ours.millis))
      const raw = yield* timed(rawPipeBytes(bigTarget, producer))
      yield* check("raw pipe", raw.value.bytes, raw.value.exitCode)
      pipe.push(mibPerSecond(raw.value.bytes, raw.millis))
      const bare = yield* wsLoopback(streamTotal).pipe(Effect.orDie)
      yield* check("ws loopback", bare.bytes, 0)
      ws.push(mibPerSecond(bare.bytes, bare.millis))
    }
    yield* big.kill()
    return { create, createRaw, exec, execStream, execRaw, stream, pipe, ws }
  }).pipe(Effect.provide(sdk))

  yield* Console.log(`${"round trip".padEnd(col)} ${"heyo".padStart(11)}  ${"raw".padStart(11)}  ${"ratio".padStart(7)}`)
  yield* Console.log(timeRow("create -> ready (SDK vs recipe)", results.create, results.createRaw))
  yield* Console.log(timeRow("Commands.run(\"true\") (vs spawn)", results.exec, results.execRaw, 2))
  yield* Console.log(timeRow("Commands.stream(\"true\") (vs spawn)", results.execStream, results.execRaw, 2))
  yield* Console.log(`\n${`stdout, ${streamMiB} MiB`.padEnd(col)} ${"heyo".padStart(12)} ${"baseline".padStart(12)} ${"heyo/base".padStart(6)}`)
  yield* Console.log(rateRow("Commands.stream vs child pipe", results.stream, results.pipe))
  yield* Console.log(rateRow("Commands.stream vs bare ws", results.stream, results.ws, 80))
  yield* Console.log(rateRow("(bare ws vs child pipe)", results.ws, results.pipe))
  yield* Console.log(
    `\nmedians of ${runs} creates, ${runs * 2} execs of each kind and ${streamRuns} transfers of each kind;` +
    `\nraw = the same work without heyod and the SDK (joined into the same sandbox);` +
    `\nbare ws = ${streamMiB} MiB in 64 KiB binary frames over a ws loopback socket in this process`
  )
  yield* databaseBench(url, dataDir)
  yield* checkpointBench(url, dataDir)
  yield* filesBench(url, dataDir)
  yield* networkBench(url)
  yield* p2pBench(url)
})

NodeRuntime.runMain(Effect.scoped(main))
