/**
 * The engine's sandbox service: lifecycle, TTLs, exec and files, independent of any dialect.
 * The Heyo and Sprites routers are thin adapters over it.
 */
import { HeyoSandbox } from "@heyo-effect/protocol"
import type { HeyoEnums } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Scope from "effect/Scope"
import { Runtime, type ExecOutput, type ExecSpec, type Process, type TerminalSize } from "../runtime/Runtime.js"
import { ServerConfig } from "../ServerConfig.js"
import type { SandboxRecord } from "../state/SandboxRecord.js"
import { Store } from "../state/Store.js"
import * as ArchiveSeed from "./ArchiveSeed.js"
import { Conflict, FileFailed, HostFailure, InvalidRequest, SandboxNotFound, TimedOut } from "./EngineError.js"
import { KeyedLock } from "../internal/KeyedLock.js"
import { randomId } from "../internal/RandomId.js"
import { defaultSizeClass, sizeClasses } from "./SizeClass.js"
import * as Network from "../network/Network.js"
import type { Policy as NetworkPolicy } from "../network/Policy.js"

export interface CreateSpec {
  readonly name?: string | undefined
  readonly image?: string | undefined
  readonly region?: string | undefined
  readonly sizeClass?: HeyoEnums.SandboxSize | undefined
  readonly driver?: string | undefined
  readonly startCommand?: string | undefined
  readonly workingDirectory?: string | undefined
  readonly envVars?: Readonly<Record<string, string>> | undefined
  readonly setupHooks?: ReadonlyArray<string> | undefined
  readonly openPorts?: ReadonlyArray<number> | undefined
  readonly ttlSeconds?: number | undefined
  readonly diskSizeGb?: number | undefined
  /** Unpacked into the sandbox at its first start (see ArchiveSeed.ts). */
  readonly archiveId?: string | undefined
  /** Initial egress policy (heyod's `network_policy` extension); else heyod's `egressDefault`. */
  readonly networkPolicy?: NetworkPolicy | undefined
}

export interface ExecRequest {
  readonly command: string
  readonly args?: ReadonlyArray<string> | undefined
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
}

/** A command streamed rather than collected: argv as given, no shell in between. */
export interface SpawnRequest {
  readonly argv: ReadonlyArray<string>
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly stdin: boolean
  /** Run on the sandbox's own terminal of this size (output merged on stdout). */
  readonly tty?: TerminalSize | undefined
}

export interface Service {
  readonly create: (spec: CreateSpec) => Effect.Effect<SandboxRecord, InvalidRequest | Conflict>
  readonly list: (name?: string) => Effect.Effect<ReadonlyArray<SandboxRecord>>
  readonly get: (id: string) => Effect.Effect<SandboxRecord, SandboxNotFound>
  /** By id, then by name (the Sprites dialect addresses sandboxes by either). */
  readonly resolve: (idOrName: string) => Effect.Effect<SandboxRecord, SandboxNotFound>
  readonly remove: (id: string) => Effect.Effect<void, SandboxNotFound | HostFailure>
  readonly stop: (id: string) => Effect.Effect<SandboxRecord, SandboxNotFound | HostFailure>
  readonly start: (id: string) => Effect.Effect<SandboxRecord, SandboxNotFound | HostFailure | Conflict>
  readonly restart: (id: string) => Effect.Effect<SandboxRecord, SandboxNotFound | HostFailure | Conflict>
  readonly setTtl: (id: string, ttlSeconds: number) => Effect.Effect<SandboxRecord, SandboxNotFound>
  readonly exec: (
    id: string,
    request: ExecRequest
  ) => Effect.Effect<ExecOutput, SandboxNotFound | Conflict | HostFailure | TimedOut>
  /** Starts a streamed command; closing the Scope kills its process group. */
  readonly spawn: (
    id: string,
    request: SpawnRequest
  ) => Effect.Effect<Process, SandboxNotFound | Conflict | HostFailure, Scope.Scope>
  /** `filePath` is relative to `mountPath` unless absolute; either way it resolves inside the sandbox. */
  readonly readFile: (
    id: string,
    filePath: string,
    mountPath: string
  ) => Effect.Effect<{ readonly path: string; readonly content: Uint8Array }, SandboxNotFound | Conflict | FileFailed | HostFailure>
  readonly writeFile: (
    id: string,
    filePath: string,
    mountPath: string,
    content: Uint8Array
  ) => Effect.Effect<{ readonly path: string }, SandboxNotFound | Conflict | FileFailed | HostFailure>
  // The hooks Checkpoints and Archives build on.
  /** Runs `effect` holding the sandbox's lock: no start, stop, delete or provisioning meanwhile. */
  readonly exclusive: <A, E>(id: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /**
   * Stops the sandbox, runs `replace` (which swaps its filesystem) and brings it up `running`.
   * When `replace` fails the untouched filesystem is brought back up and the failure returned.
   */
  readonly replaceFilesystem: <E>(
    id: string,
    replace: Effect.Effect<void, E>
  ) => Effect.Effect<SandboxRecord, E | SandboxNotFound | HostFailure>
  /** Heyo cold store: every process stopped, status `cold-stored`, the disk kept. */
  readonly coldStore: (id: string) => Effect.Effect<SandboxRecord, SandboxNotFound | HostFailure>
}

export class Sandboxes extends Context.Tag("@heyo-effect/server/Sandboxes")<Sandboxes, Service>() {}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
const envKeyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/
const defaultCwd = "/workspace"

const newId = () => randomId("sb-")

const now = () => new Date().toISOString()

const decoder = new TextDecoder()
const tail = (bytes: Uint8Array, max = 500): string => {
  const text = decoder.decode(bytes).trim()
  return text.length > max ? `...${text.slice(-max)}` : text
}

export const make = Effect.gen(function*() {
  const config = yield* ServerConfig
  const store = yield* Store
  const runtime = yield* Runtime
  const seeds = ArchiveSeed.make(store.database, config.dataDir, runtime)
  const locks = new KeyedLock()
  // One provisioning (start + setup hooks + start command) fiber per sandbox; stop and delete
  // interrupt it, and closing the engine's scope interrupts them all.
  const provisioning = yield* FiberMap.make<string>()
  const logDir = path.join(config.dataDir, "logs")
  // optional so the engine also runs on a bare runtime (unit tests); heyod always provides it
  const network = yield* Network.optional

  const hostFailure = (e: { readonly message: string }) => new HostFailure({ message: e.message })

  const get = (id: string) =>
    store.getSandbox(id).pipe(
      Effect.flatMap((r) => (r === undefined ? Effect.fail(new SandboxNotFound({ sandboxId: id })) : Effect.succeed(r)))
    )

  const setStatus = (id: string, status: HeyoEnums.SandboxStatus, extra: Partial<SandboxRecord> = {}) =>
    store.updateSandbox(id, { status, statusChangedAt: now(), ...extra }).pipe(Effect.zipRight(get(id)), Effect.orDie)

  const canonicalImage = (record: SandboxRecord) => {
    const image = runtime.resolveImage(record.image)
    return image === undefined
      ? Effect.fail(new HostFailure({ message: `image ${record.image} is no longer available` }))
      : Effect.succeed(image)
  }

  const baseEnv = (record: SandboxRecord, extra?: Readonly<Record<string, string>>) => ({
    ...record.envVars,
    ...extra
  })

  const runHooks = (record: SandboxRecord) =>
    Effect.forEach(record.setupHooks ?? [], (hook, index) =>
      runtime.exec(record.id, {
        argv: ["sh", "-c", hook],
        cwd: record.workingDirectory ?? defaultCwd,
        env: baseEnv(record)
      }).pipe(
        Effect.timeoutFail({
          duration: config.setupHookTimeout,
          onTimeout: () =>
            new HostFailure({
              message: `setup hook ${index + 1} (${hook}) did not finish within ${Duration.format(config.setupHookTimeout)}`
            })
        }),
        Effect.mapError((e) => e._tag === "HostFailure" ? e : hostFailure(e)),
        Effect.flatMap((out) =>
          out.exitCode === 0 ? Effect.void : Effect.fail(
            new HostFailure({
              message: `setup hook ${index + 1} (${hook}) exited with code ${out.exitCode}${
                out.output.length > 0 ? `: ${tail(out.output)}` : ""
              }`
            })
          )
        )
      ), { discard: true })

  /** Brings a sandbox to `running`: filesystem, init, first-start hooks, start command. */
  const bringUp = (id: string) =>
    Effect.gen(function*() {
      const record = yield* get(id).pipe(Effect.orDie)
      const image = yield* canonicalImage(record)
      yield* runtime.create(id, image).pipe(Effect.mapError(hostFailure))
      yield* runtime.start({ id, image, limits: sizeClasses[record.sizeClass], hostname: record.name }).pipe(
        Effect.mapError(hostFailure)
      )
      // `archive_id` at create: unpacked once, before the hooks that may build on it
      yield* seeds.seed(id)
      if (!record.hooksDone && (record.setupHooks?.length ?? 0) > 0) {
        yield* runHooks(record)
        yield* store.updateSandbox(id, { hooksDone: true })
      }
      if (record.startCommand !== null) {
        yield* Effect.sync(() => fs.mkdirSync(path.join(logDir, id), { recursive: true }))
        yield* runtime.spawnBackground(id, {
          argv: ["sh", "-c", record.startCommand],
          cwd: record.workingDirectory ?? defaultCwd,
          env: baseEnv(record)
        }, path.join(logDir, id, "start.log")).pipe(Effect.mapError(hostFailure))
      }
      return yield* setStatus(id, "running", { startedAt: Date.now(), errorMessage: null })
    })

  /** Like bringUp, but a failure leaves the sandbox `failed` with its reason, and stopped. */
  const bringUpOrFail = (id: string) =>
    bringUp(id).pipe(
      Effect.catchAll((failure) =>
        runtime.stop(id).pipe(
          Effect.ignore,
          Effect.zipRight(setStatus(id, "failed", { errorMessage: failure.message, startedAt: null })),
          Effect.zipRight(Effect.fail(failure))
        )
      )
    )

  const provision = (id: string) =>
    FiberMap.run(provisioning, id, locks.withLock(id, bringUpOrFail(id)).pipe(Effect.ignore))

  const create = Effect.fn("Sandboxes.create")(function*(spec: CreateSpec) {
    const name = spec.name ?? `sandbox-${crypto.randomBytes(4).toString("hex")}`
    if (!namePattern.test(name)) {
      return yield* new InvalidRequest({
        message: `name: "${name}" is not a valid sandbox name (1-63 letters, digits, '.', '_' or '-', starting with a letter or digit)`
      })
    }
    if (HeyoSandbox.SandboxIdPattern.test(name)) {
      return yield* new InvalidRequest({ message: `name: "${name}" looks like a sandbox id; choose another name` })
    }
    const imageName = spec.image ?? "ubuntu:24.04"
    if (runtime.resolveImage(imageName) === undefined) {
      return yield* new InvalidRequest({
        message: `image: unknown image "${imageName}"; known images: ${
          runtime.images.flatMap((i) => [i.name, ...i.aliases]).join(", ")
        }`
      })
    }
    if (spec.workingDirectory !== undefined && !spec.workingDirectory.startsWith("/")) {
      return yield* new InvalidRequest({ message: `working_directory: must be an absolute path` })
    }
    for (const key of Object.keys(spec.envVars ?? {})) {
      if (!envKeyPattern.test(key)) {
        return yield* new InvalidRequest({ message: `env_vars: "${key}" is not a valid environment variable name` })
      }
    }
    if (spec.archiveId !== undefined) yield* seeds.validate(spec.archiveId)
    if ((yield* store.getSandboxByName(name)) !== undefined) {
      return yield* new Conflict({ message: `a sandbox named "${name}" already exists` })
    }
    let id = newId()
    while ((yield* store.getSandbox(id)) !== undefined) id = newId()
    const at = now()
    const ttl = spec.ttlSeconds ?? null
    const record: SandboxRecord = {
      id,
      name,
      status: "provisioning",
      image: imageName,
      region: spec.region ?? "US",
      sizeClass: spec.sizeClass ?? defaultSizeClass,
      driver: spec.driver ?? "bubblewrap",
      startCommand: spec.startCommand ?? null,
      workingDirectory: spec.workingDirectory ?? null,
      envVars: spec.envVars ?? null,
      setupHooks: spec.setupHooks ?? null,
      openPorts: spec.openPorts ?? [],
      diskSizeGb: spec.diskSizeGb ?? null,
      ttlSeconds: ttl,
      ttlDeadline: ttl === null || ttl === 0 ? null : Date.now() + ttl * 1000,
      errorMessage: null,
      statusChangedAt: at,
      createdAt: at,
      startedAt: null,
      hooksDone: false,
      metadata: null
    }
    // A concurrent create with the same name loses at the UNIQUE constraint.
    yield* store.insertSandbox(record).pipe(
      Effect.catchAllDefect(() => new Conflict({ message: `a sandbox named "${name}" already exists` }))
    )
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    if (spec.archiveId !== undefined) yield* seeds.request(id, spec.archiveId)
    // before the first start: setup hooks already run under it
    if (network !== undefined) {
      yield* network.initialize(id, { policy: spec.networkPolicy, openPorts: spec.openPorts ?? [] }).pipe(Effect.orDie)
    }
    yield* provision(id)
    return record
  })

  const stopNow = (id: string) =>
    Effect.gen(function*() {
      yield* FiberMap.remove(provisioning, id)
      return yield* locks.withLock(
        id,
        Effect.gen(function*() {
          const record = yield* get(id)
          yield* runtime.stop(id).pipe(Effect.mapError(hostFailure))
          return record.status === "stopped" ? record : yield* setStatus(id, "stopped", { startedAt: null })
        })
      )
    })

  const startNow = (id: string) =>
    Effect.gen(function*() {
      const record = yield* get(id)
      if (record.status === "running" && (yield* runtime.isRunning(id))) return record
      yield* FiberMap.remove(provisioning, id)
      return yield* locks.withLock(
        id,
        setStatus(id, "provisioning").pipe(Effect.zipRight(bringUpOrFail(id)))
      )
    })

  const remove = Effect.fn("Sandboxes.remove")(function*(id: string) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    yield* get(id)
    yield* FiberMap.remove(provisioning, id)
    yield* locks.withLock(
      id,
      Effect.gen(function*() {
        yield* runtime.destroy(id).pipe(Effect.mapError(hostFailure))
        yield* store.deleteSandbox(id)
        yield* Effect.sync(() => fs.rmSync(path.join(logDir, id), { recursive: true, force: true }))
      })
    )
  })

  const running = (record: SandboxRecord) =>
    record.status === "running"
      ? Effect.succeed(record)
      : Effect.fail(
        new Conflict({ message: `sandbox ${record.id} is ${record.status}; it must be running` })
      )

  const exec = Effect.fn("Sandboxes.exec")(function*(id: string, request: ExecRequest) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    const record = yield* get(id).pipe(Effect.flatMap(running))
    const spec: ExecSpec = {
      argv: ["sh", "-c", request.command, "sh", ...(request.args ?? [])],
      cwd: request.cwd ?? record.workingDirectory ?? defaultCwd,
      env: baseEnv(record, request.env)
    }
    return yield* runtime.exec(id, spec).pipe(
      Effect.catchTags({
        RuntimeError: (e) => Effect.fail(hostFailure(e)),
        SandboxNotRunning: (e) => Effect.fail(new Conflict({ message: e.message }))
      }),
      Effect.timeoutFail({
        duration: config.execTimeout,
        onTimeout: () =>
          new TimedOut({
            message: `command did not finish within ${Duration.format(config.execTimeout)} and was killed`
          })
      })
    )
  })

  const spawn = Effect.fn("Sandboxes.spawn")(function*(id: string, request: SpawnRequest) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    const record = yield* get(id).pipe(Effect.flatMap(running))
    return yield* runtime.spawn(id, {
      argv: request.argv,
      cwd: request.cwd ?? record.workingDirectory ?? defaultCwd,
      env: baseEnv(record, request.env),
      stdin: request.stdin,
      tty: request.tty
    }).pipe(
      Effect.catchTags({
        RuntimeError: (e) => Effect.fail(hostFailure(e)),
        SandboxNotRunning: (e) => Effect.fail(new Conflict({ message: e.message }))
      })
    )
  })

  const resolvePath = (filePath: string, mountPath: string) =>
    path.posix.isAbsolute(filePath) ? path.posix.normalize(filePath) : path.posix.join(mountPath, filePath)

  const fileErrors = {
    RuntimeError: (e: { readonly message: string }) => Effect.fail(hostFailure(e)),
    SandboxNotRunning: (e: { readonly message: string }) => Effect.fail(new Conflict({ message: e.message })),
    SandboxFileError: (e: { readonly reason: FileFailed["reason"]; readonly path: string; readonly message: string }) =>
      Effect.fail(new FileFailed({ reason: e.reason, path: e.path, message: e.message }))
  }

  const readFile = Effect.fn("Sandboxes.readFile")(function*(id: string, filePath: string, mountPath: string) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    yield* get(id).pipe(Effect.flatMap(running))
    const target = resolvePath(filePath, mountPath)
    const content = yield* runtime.readFile(id, target).pipe(Effect.catchTags(fileErrors))
    return { path: target, content }
  })

  const writeFile = Effect.fn("Sandboxes.writeFile")(
    function*(id: string, filePath: string, mountPath: string, content: Uint8Array) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      yield* get(id).pipe(Effect.flatMap(running))
      const target = resolvePath(filePath, mountPath)
      yield* runtime.writeFile(id, target, content).pipe(Effect.catchTags(fileErrors))
      return { path: target }
    }
  )

  const setTtl = (id: string, ttlSeconds: number) =>
    get(id).pipe(
      Effect.zipRight(store.updateSandbox(id, {
        ttlSeconds,
        ttlDeadline: ttlSeconds === 0 ? null : Date.now() + ttlSeconds * 1000
      })),
      Effect.zipRight(get(id))
    )

  const sweepTtls = store.listSandboxes().pipe(
    Effect.flatMap((records) =>
      Effect.forEach(
        records.filter((r) => r.ttlDeadline !== null && r.ttlDeadline <= Date.now()),
        (r) =>
          remove(r.id).pipe(
            Effect.tap(() => Effect.logInfo(`sandbox ${r.id} (${r.name}) reached its TTL and was killed`)),
            Effect.catchAll((e) => Effect.logWarning(`TTL kill of ${r.id} failed: ${e.message}`))
          ),
        { discard: true }
      )
    )
  )
  yield* sweepTtls.pipe(Effect.repeat(Schedule.spaced(config.ttlSweepInterval)), Effect.forkScoped)

  // A restart of heyod brings back every sandbox that was running (or still provisioning).
  const previous = yield* store.listSandboxes()
  yield* Effect.forEach(
    previous.filter((r) => r.status === "running" || r.status === "provisioning"),
    (r) =>
      locks.withLock(r.id, bringUpOrFail(r.id)).pipe(
        Effect.catchAll((e) => Effect.logWarning(`sandbox ${r.id} could not be restarted: ${e.message}`))
      ),
    { concurrency: 2, discard: true }
  )

  return Sandboxes.of({
    create,
    list: (name) => store.listSandboxes(name),
    get,
    resolve: (ref) =>
      store.getSandbox(ref).pipe(
        Effect.flatMap((r) => (r === undefined ? store.getSandboxByName(ref) : Effect.succeed(r))),
        Effect.flatMap((r) => (r === undefined ? Effect.fail(new SandboxNotFound({ sandboxId: ref })) : Effect.succeed(r)))
      ),
    remove,
    stop: Effect.fn("Sandboxes.stop")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* stopNow(id)
    }),
    start: Effect.fn("Sandboxes.start")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* startNow(id)
    }),
    restart: Effect.fn("Sandboxes.restart")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      yield* stopNow(id)
      return yield* startNow(id)
    }),
    setTtl,
    exec,
    spawn,
    readFile,
    writeFile,
    exclusive: (id, effect) => locks.withLock(id, effect),
    replaceFilesystem: <E>(id: string, replace: Effect.Effect<void, E>) =>
      Effect.gen(function*() {
        yield* get(id)
        yield* FiberMap.remove(provisioning, id)
        return yield* locks.withLock(
          id,
          Effect.gen(function*() {
            yield* runtime.stop(id).pipe(Effect.mapError(hostFailure))
            yield* setStatus(id, "provisioning", { startedAt: null })
            yield* replace.pipe(Effect.catchAll((e) => bringUpOrFail(id).pipe(Effect.ignore, Effect.zipRight(Effect.fail(e)))))
            return yield* bringUpOrFail(id)
          })
        )
      }).pipe(Effect.withSpan("Sandboxes.replaceFilesystem", { attributes: { "sandbox.id": id } })),
    coldStore: Effect.fn("Sandboxes.coldStore")(function*(id: string) {
      yield* get(id)
      yield* FiberMap.remove(provisioning, id)
      return yield* locks.withLock(
        id,
        runtime.stop(id).pipe(Effect.mapError(hostFailure), Effect.zipRight(setStatus(id, "cold-stored", { startedAt: null })))
      )
    })
  })
})

export const layer: Layer.Layer<Sandboxes, never, ServerConfig | Store | Runtime> = Layer.scoped(Sandboxes, make)
