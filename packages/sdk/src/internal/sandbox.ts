/**
 * Sandbox lifecycle logic that does not depend on the transport: create-and-wait, scoped create,
 * polling, name filtering, spans. The HTTP service and the in-memory fake provide only a
 * `SandboxBackend`, so both behave the same way above the wire.
 */
import { HeyoSandbox, SpritesNetworkPolicy } from "@heyo-effect/protocol"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Commands from "../Commands.js"
import type * as Files from "../Files.js"
import * as HeyoError from "../HeyoError.js"
import type * as Sandbox from "../Sandbox.js"
import * as SandboxHandle from "../SandboxHandle.js"
import { encode, sandboxId } from "./services.js"

export const DEFAULT_WAIT: Duration.Duration = Duration.minutes(5)
/** The longest pause between two polls (the cloud SDKs' fixed interval). */
export const POLL_INTERVAL: Duration.Duration = Duration.seconds(2)
/**
 * Polls start fast and back off to POLL_INTERVAL: a local server is ready in tens of
 * milliseconds, and a fixed 2 s would make every create take 2 s there.
 */
const FIRST_POLL_DELAY: Duration.Duration = Duration.millis(50)
const pollDelay = (attempt: number): Duration.Duration =>
  Duration.min(Duration.times(FIRST_POLL_DELAY, 2 ** Math.min(attempt, 10)), POLL_INTERVAL)

export interface SandboxBackend {
  readonly deploy: (options: Sandbox.CreateOptions) => Effect.Effect<HeyoSandbox.SandboxDeployResponse, HeyoError.HttpError>
  readonly info: (id: HeyoSandbox.SandboxId) => Effect.Effect<HeyoSandbox.SandboxInfo, HeyoError.HttpError>
  /** May ignore `name`: the caller filters again. */
  readonly list: (name: string | undefined) => Effect.Effect<ReadonlyArray<HeyoSandbox.SandboxInfo>, HeyoError.HttpError>
  /** A sandbox that is already gone counts as killed. */
  readonly kill: (id: HeyoSandbox.SandboxId) => Effect.Effect<void, Sandbox.KillError>
  readonly stop: (id: HeyoSandbox.SandboxId) => Effect.Effect<void, HeyoError.HttpError>
  readonly start: (id: HeyoSandbox.SandboxId, options: Sandbox.StartOptions) => Effect.Effect<void, HeyoError.HttpError>
  readonly restart: (id: HeyoSandbox.SandboxId) => Effect.Effect<void, HeyoError.HttpError>
  readonly setTtl: (id: HeyoSandbox.SandboxId, ttl: Duration.Duration) => Effect.Effect<void, HeyoError.HttpError>
  readonly coldStore: (id: HeyoSandbox.SandboxId) => Effect.Effect<void, HeyoError.HttpError>
  readonly restore: (id: HeyoSandbox.SandboxId) => Effect.Effect<void, HeyoError.HttpError>
  readonly replaceMount: (
    id: HeyoSandbox.SandboxId,
    archiveId: string,
    sandboxPath: string | undefined
  ) => Effect.Effect<void, HeyoError.HttpError>
}

/** Statuses after which polling stops without the sandbox being usable (the seeds' trap). */
const settled = new Set(["stopped", "paused", "cold-stored"])

export const sandboxFrom = (
  backend: SandboxBackend,
  commands: Commands.Service,
  files: Files.Service
): Sandbox.Service => {
  const handle = (id: HeyoSandbox.SandboxId, info: Option.Option<HeyoSandbox.SandboxInfo>) =>
    SandboxHandle.make(id, info, { sandbox: self, commands, files })

  const waitForReady = Effect.fn("Sandbox.waitForReady")(function*(id: string, timeout?: Duration.DurationInput) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    const limit = Duration.decode(timeout ?? DEFAULT_WAIT)
    let last = "no answer yet"
    let attempt = 0
    const poll: Effect.Effect<HeyoSandbox.SandboxInfo, Sandbox.WaitError> = backend.info(sandboxId(id)).pipe(
      Effect.map(Option.some),
      // A sandbox can be invisible for a moment right after create.
      Effect.catchTag("NotFound", () => Effect.succeedNone),
      Effect.flatMap((found) => {
        if (Option.isSome(found)) {
          const info = found.value
          last = `status ${info.status}`
          if (info.status === "running" || settled.has(info.status)) return Effect.succeed(info)
          if (info.status === "failed") {
            return Effect.fail(new HeyoError.SandboxFailed({ sandboxId: id, reason: info.errorMessage || "no reason reported" }))
          }
        } else {
          last = "not found"
        }
        return Effect.zipRight(Effect.sleep(pollDelay(attempt++)), Effect.suspend(() => poll))
      })
    )
    return yield* poll.pipe(Effect.timeoutFail({
      duration: limit,
      onTimeout: () =>
        new HeyoError.Timeout({ message: `sandbox ${id} not ready after ${Duration.format(limit)} (${last})`, timeout: limit })
    }))
  })

  const deploy = (options: Sandbox.CreateOptions) =>
    Effect.tap(backend.deploy(options), (r) => Effect.annotateCurrentSpan("sandbox.id", r.id))

  const waitOf = (options: Sandbox.CreateOptions) => Duration.decode(options.waitForReady ?? DEFAULT_WAIT)

  const self: Sandbox.Service = {
    create: Effect.fn("Sandbox.create")(function*(options?: Sandbox.CreateOptions) {
      const o = options ?? {}
      const wait = waitOf(o)
      return yield* Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(deploy(o)), ({ id }) =>
          Duration.isZero(wait)
            ? Effect.succeed(handle(id, Option.none()))
            : restore(waitForReady(id, wait)).pipe(
              Effect.map((info) => handle(id, Option.some(info))),
              // The caller gets no handle on failure, so nothing else could ever kill it.
              Effect.onError(() => Effect.ignore(self.kill(id)))
            ))
      )
    }),
    createScoped: Effect.fn("Sandbox.createScoped")(function*(options?: Sandbox.CreateOptions) {
      const o = options ?? {}
      const wait = waitOf(o)
      // Acquire is the deploy alone, so a failed wait still kills the sandbox at scope close.
      const h = yield* Effect.acquireRelease(
        Effect.map(deploy(o), ({ id }) => handle(id, Option.none())),
        (h) => Effect.ignore(self.kill(h.id))
      )
      if (!Duration.isZero(wait)) yield* h.waitForReady(wait)
      return h
    }),
    connect: Effect.fn("Sandbox.connect")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return handle(sandboxId(id), Option.none())
    }),
    list: Effect.fn("Sandbox.list")(function*(options?: Sandbox.ListOptions) {
      const name = options?.name
      const all = yield* backend.list(name)
      // Servers before heyvmd 0.44 ignore `?name=`.
      return name === undefined ? all : all.filter((info) => info.name === name)
    }),
    info: Effect.fn("Sandbox.info")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* backend.info(sandboxId(id))
    }),
    waitForReady,
    kill: Effect.fn("Sandbox.kill")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* backend.kill(sandboxId(id))
    }),
    stop: Effect.fn("Sandbox.stop")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* backend.stop(sandboxId(id))
    }),
    start: Effect.fn("Sandbox.start")(function*(id: string, options?: Sandbox.StartOptions) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* backend.start(sandboxId(id), options ?? {})
    }),
    restart: Effect.fn("Sandbox.restart")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* backend.restart(sandboxId(id))
    }),
    setTtl: Effect.fn("Sandbox.setTtl")(function*(id: string, ttl: Duration.DurationInput) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* backend.setTtl(sandboxId(id), Duration.decode(ttl))
    }),
    coldStore: Effect.fn("Sandbox.coldStore")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* backend.coldStore(sandboxId(id))
    }),
    restore: Effect.fn("Sandbox.restore")(function*(id: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* backend.restore(sandboxId(id))
    }),
    replaceMount: Effect.fn("Sandbox.replaceMount")(function*(id: string, archiveId: string, sandboxPath?: string) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      return yield* backend.replaceMount(sandboxId(id), archiveId, sandboxPath)
    })
  }
  return self
}

/** Whole seconds, rounded up so a limit is never shorter than asked; infinity means none (0). */
export const toSeconds = (d: Duration.Duration): number =>
  Duration.isFinite(d) ? Math.ceil(Duration.toMillis(d) / 1000) : 0

export const CREATE_DEFAULTS = {
  region: "US",
  image: "ubuntu:24.04",
  sizeClass: "small",
  openPorts: []
} as const

/** The wire body of a create, defaults filled, validated by the protocol schema. */
export const createBody = (o: Sandbox.CreateOptions) =>
  encode(
    HeyoSandbox.SandboxCreateBody,
    new HeyoSandbox.SandboxCreateBody({
      name: o.name,
      archiveId: o.archiveId,
      region: o.region ?? CREATE_DEFAULTS.region,
      driver: o.driver,
      image: o.image ?? CREATE_DEFAULTS.image,
      startCommand: o.startCommand,
      openPorts: o.openPorts ?? CREATE_DEFAULTS.openPorts,
      ttlSeconds: o.ttl === undefined ? undefined : toSeconds(Duration.decode(o.ttl)),
      diskSizeGb: o.diskSizeGb,
      workingDirectory: o.workingDirectory,
      envVars: o.envVars,
      setupHooks: o.setupHooks,
      sizeClass: o.sizeClass ?? CREATE_DEFAULTS.sizeClass,
      daemonId: o.daemonId,
      networkPolicy: o.networkPolicy === undefined
        ? undefined
        : new SpritesNetworkPolicy.NetworkPolicy({ rules: o.networkPolicy.rules }, true)
    }, true)
  )
