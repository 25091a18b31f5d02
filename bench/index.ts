/**
 * `pnpm bench`: heyod's speed beside raw baselines measured in the same run, as medians and
 * ratios. Not part of CI (timings on a shared 2-core machine are noisy; ratios are the figure).
 *
 * - create -> ready: `Sandbox.create` through the SDK and HTTP (which waits for `running`)
 *   against the runtime recipe run directly as a shell script (bench/raw-sandbox.sh).
 * - exec round trip: `Commands.run("true")` through the SDK against a raw Node spawn of the same
 *   join (cgroups, then nsenter into the same sandbox) running /bin/true.
 *
 * BENCH_RUNS (default 20) sets the number of runs of each.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { HeyoClient, Sandbox } from "@heyo-effect/sdk"
import { Heyod } from "@heyo-effect/server"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const runs = Number(process.env["BENCH_RUNS"] ?? 20)
const rawScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "raw-sandbox.sh")

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = process.hrtime.bigint()
    const value = yield* effect
    return { value, millis: Number(process.hrtime.bigint() - started) / 1e6 }
  })

/** A sandbox's cgroup directories and its init's host pid, found the way an operator would. */
const joinTargetOf = (instanceId: string, sandboxId: string) => {
  const dirs: Array<string> = []
  const walk = (dir: string, depth: number) => {
    if (depth > 8) return
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const full = path.join(dir, entry.name)
      if (full.endsWith(`/heyo-${instanceId}/${sandboxId}`)) dirs.push(full)
      else walk(full, depth + 1)
    }
  }
  walk("/sys/fs/cgroup", 0)
  const pids = dirs.flatMap((dir) => fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean))
  const init = pids.find((pid) => /^NSpid:\s+\d+\s+1$/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8")))
  if (init === undefined) throw new Error(`no init found for ${sandboxId}`)
  return { cgroups: dirs, pid: Number(init) }
}

const rawExec = (target: { readonly cgroups: ReadonlyArray<string>; readonly pid: number }) =>
  Effect.async<number>((resume) => {
    const child = spawn("sh", [
      "-c",
      `for c in ${target.cgroups.map((d) => `${d}/cgroup.procs`).join(" ")}; do echo $$ > $c; done; ` +
      `exec nsenter -t ${target.pid} --all -r -w -- /usr/bin/env -i PATH=/usr/bin:/bin /bin/true`
    ], { stdio: ["ignore", "pipe", "pipe"], detached: true })
    child.stdout.resume()
    child.stderr.resume()
    child.once("close", (code) => resume(Effect.succeed(code ?? -1)))
  })

const rawCreate = (image: string, scratch: string, name: string) =>
  Effect.sync(() => execFileSync(rawScript, ["create", image, scratch, name], { encoding: "utf8" }))

const rawDestroy = (scratch: string, name: string) =>
  Effect.sync(() => execFileSync(rawScript, ["destroy", scratch, name]))

const row = (what: string, ours: ReadonlyArray<number>, raw: ReadonlyArray<number>) => {
  const a = median(ours)
  const b = median(raw)
  return `${what.padEnd(34)} ${a.toFixed(1).padStart(8)} ms ${b.toFixed(1).padStart(8)} ms ${(a / b).toFixed(2).padStart(7)}x`
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
    const execRaw: Array<number> = []
    for (let i = 0; i < runs * 2; i++) {
      const ours = yield* timed(sandbox.commands.run("true"))
      if (ours.value.exitCode !== 0) return yield* Effect.dieMessage(`true exited ${ours.value.exitCode}`)
      exec.push(ours.millis)
      const raw = yield* timed(rawExec(target))
      if (raw.value !== 0) return yield* Effect.dieMessage(`raw true exited ${raw.value}`)
      execRaw.push(raw.millis)
    }
    yield* sandbox.kill()
    return { create, createRaw, exec, execRaw }
  }).pipe(Effect.provide(sdk))

  yield* Console.log(`${"".padEnd(34)} ${"heyo".padStart(11)} ${"raw".padStart(11)} ${"ratio".padStart(8)}`)
  yield* Console.log(row("create -> ready (SDK vs recipe)", results.create, results.createRaw))
  yield* Console.log(row("Commands.run(\"true\") (vs spawn)", results.exec, results.execRaw))
  yield* Console.log(`\nmedians of ${runs} creates and ${runs * 2} execs; raw = the same work without heyod and the SDK`)
})

NodeRuntime.runMain(Effect.scoped(main))
