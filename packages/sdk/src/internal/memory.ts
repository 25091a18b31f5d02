/** The state and behaviour behind `Testing.layer`: a small Heyo server kept in maps. */
import { HeyoExec, HeyoFiles, HeyoSandbox } from "@heyo-effect/protocol"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Commands from "../Commands.js"
import * as HeyoError from "../HeyoError.js"
import type * as Testing from "../Testing.js"
import { makeMemoryCheckpoint } from "./memoryCheckpoint.js"
import { CREATE_DEFAULTS, createBody, type SandboxBackend, sandboxFrom, toSeconds } from "./sandbox.js"
import { makeMemoryExec } from "./memoryExec.js"
import { makeMemoryFiles } from "./fsMemory.js"
import { commandsFrom, encode, sandboxId } from "./services.js"

interface State {
  info: Omit<ConstructorParameters<typeof HeyoSandbox.SandboxInfo>[0], "status" | "statusChangedAt">
  status: string
  statusChangedAt: string
  errorMessage: string | null
  readonly files: Map<string, Uint8Array>
}

const encoder = new TextEncoder()
const toBytes = (content: string | Uint8Array) => typeof content === "string" ? encoder.encode(content) : content

/** `/workspace` + `a/../b.txt` = `/workspace/b.txt`. */
const resolvePath = (base: string, path: string): string => {
  const parts: Array<string> = []
  for (const part of (path.startsWith("/") ? path : `${base}/${path}`).split("/")) {
    if (part === "..") parts.pop()
    else if (part !== "" && part !== ".") parts.push(part)
  }
  return "/" + parts.join("/")
}

const memoryFiles = (files: Map<string, Uint8Array>, base: string): Testing.MemoryFiles => ({
  read: (path) => files.get(resolvePath(base, path)),
  readText: (path) => {
    const bytes = files.get(resolvePath(base, path))
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes)
  },
  write: (path, content) => void files.set(resolvePath(base, path), toBytes(content)),
  remove: (path) => files.delete(resolvePath(base, path)),
  list: () => [...files.keys()].sort()
})

const defaultExec: Testing.CommandHandler = (_id, command) => ({
  stderr: `mock: no command handler for ${JSON.stringify(command)}\n`,
  exitCode: 127
})

export const makeMemory = (options: Testing.Options) => {
  const sandboxes = new Map<string, State>()
  const executed: Array<Testing.ExecutedCommand> = []
  let counter = 0
  const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

  const infoOf = (s: State) =>
    new HeyoSandbox.SandboxInfo({ ...s.info, status: s.status, statusChangedAt: s.statusChangedAt, errorMessage: s.errorMessage })

  // Messages read like the real server's, with the route a real call would have used.
  const notFound = (id: string, call: string) => new HeyoError.NotFound({ message: `sandbox ${id} not found (calling ${call})` })
  const lookup = (id: string, call: string) =>
    Effect.suspend(() => {
      const s = sandboxes.get(id)
      return s === undefined ? Effect.fail(notFound(id, call)) : Effect.succeed(s)
    })
  const setStatus = (s: State, status: string, errorMessage: string | null = null) =>
    Effect.map(now, (at) => {
      s.status = status
      s.statusChangedAt = at
      s.errorMessage = errorMessage
    })

  const seed = (sb: Testing.SeedSandbox, at: string) => {
    const id = sb.id ?? `sb-${(++counter).toString(36).padStart(8, "0")}`
    const files = new Map<string, Uint8Array>()
    for (const [path, content] of Object.entries(sb.files ?? {})) files.set(resolvePath(HeyoFiles.DefaultMountPath, path), toBytes(content))
    const state: State = {
      info: { id: sandboxId(id), name: sb.name ?? id, image: sb.image ?? CREATE_DEFAULTS.image, isDeployed: true },
      status: sb.status ?? "running",
      statusChangedAt: at,
      errorMessage: null,
      files
    }
    sandboxes.set(id, state)
    return state
  }
  for (const sb of options.sandboxes ?? []) seed(sb, new Date(0).toISOString())

  const backend: SandboxBackend = {
    deploy: (o) =>
      Effect.gen(function*() {
        const body = yield* createBody(o)
        if (body.name !== undefined && [...sandboxes.values()].some((s) => s.info.name === body.name)) {
          return yield* new HeyoError.Api({
            status: 409,
            message: `a sandbox named ${body.name} already exists (calling POST /sandbox-deploy)`
          })
        }
        const initial = options.onCreate?.(o) ?? {}
        const s = seed({ status: initial.status ?? "running" }, yield* now)
        s.errorMessage = initial.errorMessage ?? null
        s.info = {
          ...s.info,
          name: body.name ?? s.info.id,
          image: body.image ?? "",
          region: body.region ?? null,
          sizeClass: body.size_class ?? null,
          startCommand: body.start_command ?? null,
          workingDirectory: body.working_directory ?? null,
          envVars: body.env_vars ?? null,
          setupHooks: body.setup_hooks ?? null,
          diskSizeGb: body.disk_size_gb ?? null,
          ttlSeconds: body.ttl_seconds ?? null
        }
        return new HeyoSandbox.SandboxDeployResponse({ id: s.info.id, status: s.status })
      }),
    info: (id) => Effect.map(lookup(id, `GET /deployed-sandboxes/${id}`), infoOf),
    list: () => Effect.sync(() => [...sandboxes.values()].map(infoOf)),
    kill: (id) => Effect.sync(() => void sandboxes.delete(id)),
    stop: (id) => Effect.flatMap(lookup(id, `POST /sandbox/${id}/stop`), (s) => setStatus(s, "stopped")),
    start: (id) => Effect.flatMap(lookup(id, `POST /sandbox/${id}/start`), (s) => setStatus(s, "running")),
    restart: (id) => Effect.flatMap(lookup(id, `POST /deployed-sandboxes/${id}/restart`), (s) => setStatus(s, "running")),
    setTtl: (id, ttl) =>
      Effect.map(lookup(id, `POST /deployed-sandboxes/${id}/ttl`), (s) => {
        const seconds = toSeconds(ttl)
        s.info = { ...s.info, ttlSeconds: seconds === 0 ? null : seconds }
      }),
    coldStore: (id) => Effect.flatMap(lookup(id, `POST /deployed-sandboxes/${id}/checkpoint`), (s) => setStatus(s, "cold-stored")),
    restore: (id) => Effect.flatMap(lookup(id, `POST /deployed-sandboxes/${id}/restore`), (s) => setStatus(s, "running")),
    // The fake holds no archives (nothing can upload one), so every id is unknown, as on a server.
    replaceMount: (id, archiveId) =>
      Effect.flatMap(lookup(id, `POST /deployed-sandboxes/${id}/replace-mount`), () =>
        Effect.fail(
          new HeyoError.NotFound({
            message: `archive ${archiveId} not found (calling POST /deployed-sandboxes/${id}/replace-mount)`
          })
        ))
  }

  const answer = (
    id: HeyoSandbox.SandboxId,
    command: string,
    o: Commands.RunOptions,
    streamed: { readonly stdin?: Uint8Array | undefined; readonly args?: ReadonlyArray<string> | undefined } = {}
  ) =>
    Effect.gen(function*() {
      yield* encode(HeyoExec.ExecRequest, new HeyoExec.ExecRequest({ command, cwd: o.cwd, env: o.env }, true))
      const call = `POST /sandbox/${id}/exec`
      const s = yield* lookup(id, call)
      if (s.status !== "running") {
        return yield* new HeyoError.Api({ status: 409, message: `sandbox ${id} is ${s.status}, not running (calling ${call})` })
      }
      executed.push({ sandboxId: id, command, cwd: o.cwd, env: o.env })
      const files = memoryFiles(s.files, o.cwd === undefined ? HeyoFiles.DefaultMountPath : resolvePath(HeyoFiles.DefaultMountPath, o.cwd))
      const answer = (options.exec ?? defaultExec)(id, command, { cwd: o.cwd, env: o.env, files, ...streamed })
      const out = Effect.isEffect(answer) ? yield* answer : answer
      const stdout = out.stdout ?? ""
      const stderr = out.stderr ?? ""
      return new Commands.CommandResult({ stdout, stderr, output: out.output ?? stdout + stderr, exitCode: out.exitCode ?? 0 })
    })

  const commands = commandsFrom((id, command, o) => answer(id, command, o), makeMemoryExec(answer))

  const files = makeMemoryFiles(lookup)

  const mock: Testing.MockService = {
    sandboxes: Effect.sync(() => [...sandboxes.values()].map(infoOf)),
    files: (id) => Effect.map(lookup(id, "Mock.files"), (s) => memoryFiles(s.files, HeyoFiles.DefaultMountPath)),
    commands: Effect.sync(() => [...executed]),
    setStatus: (id, status, errorMessage) => Effect.flatMap(lookup(id, "Mock.setStatus"), (s) => setStatus(s, status, errorMessage))
  }

  const checkpoint = makeMemoryCheckpoint(lookup, now)

  return { sandbox: sandboxFrom(backend, commands, files), commands, files, mock, checkpoint }
}

