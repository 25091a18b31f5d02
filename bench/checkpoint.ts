/**
 * Checkpoints for `pnpm bench`: a sandbox with 1 GiB written and synced, then
 * `Checkpoint.create` (SDK -> NDJSON route -> freeze, sync, snapshot, thaw -> the checkpoint read
 * back) and `Checkpoint.restore` (stop, swap the filesystem, start again), each beside a raw
 * `cp -a --reflink=auto` of the very same upper dir on the very same filesystem: what copying the
 * sandbox's files costs without heyod. Target: <= 300 ms each.
 *
 * BENCH_CKPT_MIB (default 1024) sets the data written; BENCH_CKPT_RUNS (default 5) the runs.
 * Run alone with `tsx bench/checkpoint.ts` (it starts its own heyod; BENCH_CKPT_STORAGE=dir
 * measures the plain-directory fallback), or from bench/index.ts.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Checkpoint, Commands, HeyoClient, Sandbox } from "@heyo-effect/sdk"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { clock, median } from "./support/Measure.js"
import { runAlone } from "./support/Standalone.js"

const dataMiB = Number(process.env["BENCH_CKPT_MIB"] ?? 1024)
const runs = Number(process.env["BENCH_CKPT_RUNS"] ?? 5)
const targetMillis = 300

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = clock()
    const value = yield* effect
    return { value, millis: clock() - started }
  })

const row = (what: string, ours: ReadonlyArray<number>, raw: ReadonlyArray<number>) => {
  const a = median(ours)
  const b = median(raw)
  return `${what.padEnd(34)} ${a.toFixed(1).padStart(8)} ms  ${b.toFixed(1).padStart(8)} ms  ${(a / b).toFixed(2).padStart(6)}x` +
    `  target <= ${targetMillis} ms: ${a <= targetMillis ? "met" : "MISSED"}`
}

/** `cp -a --reflink=auto` of a directory, then its removal (not timed). */
const rawCopy = (from: string, to: string) =>
  Effect.sync(() => {
    const started = clock()
    execFileSync("cp", ["-a", "--reflink=auto", "--", from, to])
    const millis = clock() - started
    fs.rmSync(to, { recursive: true, force: true })
    return millis
  })

export const checkpointBench = (url: string, dataDir: string) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.create({ name: `bench-ckpt-${process.pid}`, sizeClass: "medium" })
    // urandom: incompressible, so no filesystem trick makes the data smaller than it is
    yield* Commands.runOrFail(
      sandbox.id,
      `mkdir -p /workspace && head -c ${dataMiB}M /dev/urandom > /workspace/big && sync`,
      { timeout: Duration.minutes(5) }
    )
    const upper = path.join(dataDir, "state", "sandboxes", sandbox.id, "upper")
    const storage = fs.existsSync(path.join(dataDir, "state.img")) ? "btrfs" : "dir"

    // warm-up of both paths
    const first = yield* Checkpoint.create(sandbox.id, { comment: "warm-up" })
    yield* Checkpoint.restore(sandbox.id, first.id)
    yield* rawCopy(upper, path.join(dataDir, "state", "bench-cp-warm"))

    const create: Array<number> = []
    const restore: Array<number> = []
    const copy: Array<number> = []
    for (let i = 0; i < runs; i++) {
      yield* Commands.runOrFail(sandbox.id, `echo ${i} > /workspace/round`)
      const taken = yield* timed(Checkpoint.create(sandbox.id, { comment: `bench ${i}` }))
      create.push(taken.millis)
      restore.push((yield* timed(Checkpoint.restore(sandbox.id, taken.value.id))).millis)
      copy.push(yield* rawCopy(upper, path.join(dataDir, "state", `bench-cp-${i}`)))
    }
    const round = (yield* Commands.runOrFail(sandbox.id, "cat /workspace/round; stat -c %s /workspace/big")).stdout.split("\n")
    if (round[0] !== String(runs - 1) || Number(round[1]) !== dataMiB * 1024 * 1024) {
      return yield* Effect.dieMessage(`after the last restore the sandbox holds ${round.join(" ")}`)
    }
    yield* sandbox.kill()

    yield* Console.log(`\n${`checkpoints, ${dataMiB} MiB (${storage})`.padEnd(34)} ${"heyo".padStart(11)}  ${"cp -a".padStart(11)}  ${"ratio".padStart(7)}`)
    yield* Console.log(row("Checkpoint.create (vs cp --reflink)", create, copy))
    yield* Console.log(row("Checkpoint.restore (vs cp --reflink)", restore, copy))
    yield* Console.log(
      `medians of ${runs} runs; create = the SDK's NDJSON call + reading the checkpoint back;` +
        `\nrestore = stop, filesystem swap, start, back to running; cp = cp -a --reflink=auto of the same upper dir`
    )
  }).pipe(
    Effect.provide(Sandbox.layer.pipe(Layer.provide(HeyoClient.layer({ baseUrl: url })), Layer.provide(NodeHttpClient.layerUndici)))
  )

runAlone(import.meta.url, checkpointBench, { storage: process.env["BENCH_CKPT_STORAGE"] === "dir" ? "dir" : "auto" })
