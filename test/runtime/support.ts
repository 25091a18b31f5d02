/**
 * Harness for the runtime driver's integration tests: one NamespaceRuntime layer per test file on
 * its own temp data dir, released explicitly (so a test can check what release leaves behind),
 * and a leftovers check that adds the runtime's run directory to the shared one.
 */
import { afterAll, beforeAll } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NamespaceRuntime from "../../packages/server/src/runtime/NamespaceRuntime.js"
import { type ExecOutput, Runtime, type Service } from "../../packages/server/src/runtime/Runtime.js"
import { leftovers as sharedLeftovers } from "../support/Heyod.js"

export const micro = { cpus: 0.25, memoryBytes: 512 * 1024 * 1024, pids: 256 }

export const makeDataDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "heyo-runtime-"))

export const instanceIdOf = (dataDir: string) => fs.readFileSync(path.join(dataDir, "instance-id"), "utf8").trim()

/** Everything a runtime of this data dir could leave on the host; every list is empty when clean. */
export const leftovers = (dataDir: string) => {
  const shared = sharedLeftovers(dataDir)
  const instance = instanceIdOf(dataDir)
  const runDir = `/run/heyo-${instance}`
  const runMounts = fs.readFileSync("/proc/mounts", "utf8").split("\n").filter((line) => line.includes(runDir))
  return { ...shared, runMounts, runDir: fs.existsSync(runDir) ? [runDir] : [] }
}

export const assertClean = (dataDir: string) => {
  const left = leftovers(dataDir)
  const dirty = Object.entries(left).filter(([, list]) => list.length > 0)
  if (dirty.length > 0) throw new Error(`leftovers after release: ${JSON.stringify(Object.fromEntries(dirty), null, 2)}`)
}

/** Deletes a data dir once nothing is mounted in it (never recursive deletion through a mount). */
export const removeIfClean = (dataDir: string) => {
  if (!fs.existsSync(path.join(dataDir, "instance-id"))) return
  const left = leftovers(dataDir)
  if (left.mounts.length === 0 && left.runMounts.length === 0) fs.rmSync(dataDir, { recursive: true, force: true })
}

export interface Harness {
  readonly dataDir: string
  readonly runtime: Effect.Effect<Service>
  /** Closes the layer's scope; resolves with how long the release took. */
  readonly release: () => Promise<number>
}

/** Builds the runtime once for the file (beforeAll) and makes sure it is released (afterAll). */
export const harness = (storage: "auto" | "btrfs" | "dir"): Harness => {
  const dataDir = makeDataDir()
  const scope = Effect.runSync(Scope.make())
  let service: Service | undefined
  let released: Promise<number> | undefined
  beforeAll(async () => {
    const context = await Effect.runPromise(Layer.buildWithScope(NamespaceRuntime.layer({ dataDir, storage }), scope))
    service = Context.get(context, Runtime)
  }, 120_000)
  const release = () => {
    released ??= (async () => {
      const started = Date.now()
      await Effect.runPromise(Scope.close(scope, Exit.void))
      return Date.now() - started
    })()
    return released
  }
  afterAll(async () => {
    await release()
    removeIfClean(dataDir)
  }, 30_000)
  return {
    dataDir,
    runtime: Effect.suspend(() => service === undefined ? Effect.dieMessage("runtime not built") : Effect.succeed(service)),
    release
  }
}

const decoder = new TextDecoder()
export const text = (bytes: Uint8Array) => decoder.decode(bytes)
export const bytes = (value: string) => new TextEncoder().encode(value)

/** `sh -c script` in the sandbox, from /workspace. */
export const sh = (
  runtime: Service,
  id: string,
  script: string,
  options: { readonly env?: Record<string, string>; readonly cwd?: string; readonly stdin?: Uint8Array } = {}
): Effect.Effect<ExecOutput & { readonly out: string; readonly err: string }, unknown> =>
  runtime.exec(id, {
    argv: ["sh", "-c", script],
    cwd: options.cwd ?? "/workspace",
    env: options.env ?? {},
    stdin: options.stdin
  }).pipe(Effect.map((result) => ({ ...result, out: text(result.stdout), err: text(result.stderr) })))

/** Polls until `check` holds (real time), or dies with the last observation. */
export const eventually = <A>(effect: Effect.Effect<A, unknown>, check: (a: A) => boolean, timeoutMs = 5000) =>
  Effect.gen(function*() {
    const started = Date.now()
    for (;;) {
      const value = yield* effect
      if (check(value)) return value
      if (Date.now() - started > timeoutMs) return yield* Effect.dieMessage(`condition not met: ${JSON.stringify(value)}`)
      yield* Effect.sleep("50 millis")
    }
  })

/** The sandbox's cgroup directory for one v1 controller (memory is nested under heyod's own). */
export const cgroupDir = (dataDir: string, controller: string, sandboxId: string): string | undefined => {
  const name = `heyo-${instanceIdOf(dataDir)}`
  const walk = (dir: string, depth: number): string | undefined => {
    if (depth > 6) return undefined
    let entries: Array<fs.Dirent> = []
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return undefined
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue
      const full = path.join(dir, entry.name)
      if (entry.name === name) return fs.existsSync(path.join(full, sandboxId)) ? path.join(full, sandboxId) : undefined
      const found = walk(full, depth + 1)
      if (found !== undefined) return found
    }
    return undefined
  }
  return walk(path.join("/sys/fs/cgroup", controller), 0)
}
