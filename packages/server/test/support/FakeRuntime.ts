/**
 * An in-memory Runtime for engine and router unit tests: it keeps per-sandbox files and running
 * state, and answers commands with a handler, so engine logic is tested without namespaces.
 * The real driver has its own integration tests under test/runtime.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import {
  Runtime,
  RuntimeError,
  SandboxFileError,
  SandboxNotRunning,
  type ExecOutput,
  type ExecSpec,
  type StartSpec
} from "../../src/runtime/Runtime.js"

export interface FakeState {
  readonly created: Set<string>
  readonly running: Map<string, StartSpec>
  readonly files: Map<string, Map<string, Uint8Array>>
  readonly execs: Array<{ readonly id: string; readonly spec: ExecSpec }>
  readonly background: Array<{ readonly id: string; readonly spec: ExecSpec; readonly logFile: string }>
  readonly checkpoints: Map<string, Map<string, Uint8Array>>
}

const encoder = new TextEncoder()

export const output = (stdout: string, exitCode = 0, stderr = ""): ExecOutput => ({
  stdout: encoder.encode(stdout),
  stderr: encoder.encode(stderr),
  output: encoder.encode(stdout + stderr),
  exitCode
})

export const make = (handler: (id: string, spec: ExecSpec) => ExecOutput = () => output("")) => {
  const state: FakeState = {
    created: new Set(),
    running: new Map(),
    files: new Map(),
    execs: [],
    background: [],
    checkpoints: new Map()
  }
  const whenRunning = <A, E>(id: string, f: () => Effect.Effect<A, E>): Effect.Effect<A, E | SandboxNotRunning> =>
    Effect.suspend((): Effect.Effect<A, E | SandboxNotRunning> =>
      state.running.has(id) ? f() : Effect.fail(new SandboxNotRunning({ sandboxId: id }))
    )
  const layer = Layer.succeed(Runtime, {
    info: { storage: "dir", cgroups: "none", instanceId: "fake0000" },
    images: [{ name: "host", aliases: ["ubuntu:24.04"], description: "host userland" }],
    resolveImage: (name) => (name === "host" || name === "ubuntu:24.04" ? "host" : undefined),
    create: (id) =>
      Effect.sync(() => {
        state.created.add(id)
        if (!state.files.has(id)) state.files.set(id, new Map())
      }),
    start: (spec) => Effect.sync(() => void state.running.set(spec.id, spec)),
    stop: (id) => Effect.sync(() => void state.running.delete(id)),
    destroy: (id) =>
      Effect.sync(() => {
        state.running.delete(id)
        state.created.delete(id)
        state.files.delete(id)
      }),
    isRunning: (id) => Effect.sync(() => state.running.has(id)),
    exec: (id, spec) =>
      whenRunning(id, () =>
        Effect.sync(() => {
          state.execs.push({ id, spec })
          return handler(id, spec)
        })),
    // A streamed command answers with the same handler, all at once; stdin is accepted and dropped.
    spawn: (id, spec) =>
      whenRunning(id, () =>
        Effect.sync(() => {
          const execSpec: ExecSpec = { argv: spec.argv, cwd: spec.cwd, env: spec.env }
          state.execs.push({ id, spec: execSpec })
          const out = handler(id, execSpec)
          return {
            pid: 1,
            stdout: out.stdout.byteLength === 0 ? Stream.empty : Stream.make(out.stdout),
            stderr: out.stderr.byteLength === 0 ? Stream.empty : Stream.make(out.stderr),
            write: () => Effect.void,
            endStdin: Effect.void,
            signal: () => Effect.void,
            resize: () => Effect.void,
            exitCode: Effect.succeed(out.exitCode)
          }
        })),
    spawnBackground: (id, spec, logFile) =>
      whenRunning(id, () => Effect.sync(() => void state.background.push({ id, spec, logFile }))),
    readFile: (id, path) =>
      whenRunning(id, () => {
        const content = state.files.get(id)?.get(path)
        return content === undefined
          ? Effect.fail(new SandboxFileError({ reason: "NotFound", path, message: `${path}: no such file` }))
          : Effect.succeed(content)
      }),
    writeFile: (id, path, data) => whenRunning(id, () => Effect.sync(() => void state.files.get(id)?.set(path, data))),
    // Checkpoints copy the in-memory files, as the real driver copies the upper dir.
    checkpoints: {
      take: (id, name) =>
        Effect.sync(() => {
          state.checkpoints.set(`${id}/${name}`, new Map(state.files.get(id)))
          return { frozenMillis: 0, totalMillis: 0 }
        }),
      restore: (id, name) =>
        Effect.suspend(() => {
          const saved = state.checkpoints.get(`${id}/${name}`)
          if (saved === undefined) return Effect.fail(new RuntimeError({ operation: "restore", message: `no checkpoint ${name}` }))
          if (state.running.has(id)) return Effect.fail(new RuntimeError({ operation: "restore", message: "running" }))
          state.files.set(id, new Map(saved))
          return Effect.void
        }),
      remove: (id, name) => Effect.sync(() => void state.checkpoints.delete(`${id}/${name}`)),
      list: (id) =>
        Effect.sync(() => [...state.checkpoints.keys()].filter((k) => k.startsWith(`${id}/`)).map((k) => k.slice(id.length + 1)))
    }
  })
  return { state, layer }
}
