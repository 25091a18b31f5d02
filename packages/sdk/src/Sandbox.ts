/**
 * Sandbox lifecycle (reference/heyo-api.md §2.1): create, list, inspect, wait, stop, start,
 * restart, time limits, kill. `create` and `connect` return a `SandboxHandle`.
 *
 * `layer` provides `Sandbox`, `Commands` and `Files` from one `HeyoClient`, since handles use
 * all three.
 *
 * @since 0.1.0
 */
import { HeyoArchive, HeyoSandbox } from "@heyo-effect/protocol"
import type { HeyoEnums } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Archive from "./Archive.js"
import * as Checkpoint from "./Checkpoint.js"
import * as Commands from "./Commands.js"
import * as Daemons from "./Daemons.js"
import * as Files from "./Files.js"
import * as Network from "./Network.js"
import * as Tunnel from "./Tunnel.js"
import * as Shell from "./Shell.js"
import { HeyoClient, path } from "./HeyoClient.js"
import type * as HeyoError from "./HeyoError.js"
import {
  CREATE_DEFAULTS,
  createBody,
  DEFAULT_WAIT,
  POLL_INTERVAL,
  type SandboxBackend,
  sandboxFrom,
  toSeconds
} from "./internal/sandbox.js"
import { encode } from "./internal/services.js"
import type { SandboxHandle } from "./SandboxHandle.js"

/** @since 0.1.0 */
export const SandboxInfo = HeyoSandbox.SandboxInfo
/** @since 0.1.0 */
export type SandboxInfo = HeyoSandbox.SandboxInfo
/** @since 0.1.0 */
export const SandboxId = HeyoSandbox.SandboxId
/** @since 0.1.0 */
export type SandboxId = HeyoSandbox.SandboxId

/** How long `create` and `waitForReady` wait by default (5 minutes), polling every 2 s. @since 0.1.0 */
export { DEFAULT_WAIT, POLL_INTERVAL }

/**
 * The create body's defaults the SDK fills in, as the Rust SDK does (`region` US, `image`
 * ubuntu:24.04, `sizeClass` small, `openPorts` []): a daemon given no size class boots a
 * 1 vCPU / 128 MB machine.
 *
 * @since 0.1.0
 */
export { CREATE_DEFAULTS }

/** @since 0.1.0 */
export interface CreateOptions {
  readonly name?: string | undefined
  /** Default `ubuntu:24.04`. */
  readonly image?: string | undefined
  /** Default `US`. */
  readonly region?: HeyoEnums.SandboxRegion | undefined
  /** Omitted: the server picks one from the image. */
  readonly driver?: HeyoEnums.SandboxDriver | undefined
  /** Default `small`. */
  readonly sizeClass?: HeyoEnums.SandboxSize | undefined
  readonly openPorts?: ReadonlyArray<number> | undefined
  readonly startCommand?: string | undefined
  /** Sent in whole seconds, rounded up; `Duration.infinity` asks for no limit. */
  readonly ttl?: Duration.DurationInput | undefined
  /** 1 to 250. */
  readonly diskSizeGb?: number | undefined
  readonly workingDirectory?: string | undefined
  readonly envVars?: Readonly<Record<string, string>> | undefined
  readonly setupHooks?: ReadonlyArray<string> | undefined
  /** Seeds `/workspace` from an uploaded archive. */
  readonly archiveId?: string | undefined
  /** Pins the sandbox to one of the user's daemons (Heyo cloud). */
  readonly daemonId?: string | undefined
  /** How long to wait for `running` (default 5 minutes); `0` returns as soon as it is accepted. */
  readonly waitForReady?: Duration.DurationInput | undefined
  /**
   * The initial egress policy (see `Network`), in force before anything runs. A heyod extension
   * (`network_policy`); servers without the `network-policy` feature ignore it.
   */
  readonly networkPolicy?: Network.Policy | undefined
}

/** @since 0.1.0 */
export interface ListOptions {
  /** Exact name. */
  readonly name?: string | undefined
}

/** @since 0.1.0 */
export interface StartOptions {
  /** The Heyo cloud allows a boot 120 s, longer than the default client timeout. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** `waitForReady` never fails with NotFound: a sandbox not visible yet is polled again. @since 0.1.0 */
export type WaitError = Exclude<HeyoError.HttpError, HeyoError.NotFound> | HeyoError.SandboxFailed
/** `kill` never fails with NotFound: a sandbox that is gone is killed. @since 0.1.0 */
export type KillError = Exclude<HeyoError.HttpError, HeyoError.NotFound>

/** @since 0.1.0 */
export interface Service {
  /**
   * `POST /sandbox-deploy`, then waits for `running` unless `waitForReady` is 0. If the wait
   * fails or is interrupted, the sandbox is killed: `create` either returns a ready sandbox or
   * leaves none behind.
   */
  readonly create: (options?: CreateOptions) => Effect.Effect<SandboxHandle, HeyoError.HttpError | HeyoError.SandboxFailed>
  /** `create`, killed when the scope closes (errors while killing are ignored). */
  readonly createScoped: (
    options?: CreateOptions
  ) => Effect.Effect<SandboxHandle, HeyoError.HttpError | HeyoError.SandboxFailed, Scope.Scope>
  /** A handle for an existing sandbox. No network: a wrong id shows up on first use. */
  readonly connect: (id: string) => Effect.Effect<SandboxHandle>
  /** `GET /deployed-sandboxes`. Some servers do not list stopped sandboxes. */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<SandboxInfo>, HeyoError.HttpError>
  /** `GET /deployed-sandboxes/:id`. */
  readonly info: (id: string) => Effect.Effect<SandboxInfo, HeyoError.HttpError>
  /**
   * Polls `info` every 2 s until `running` (default limit 5 minutes). `failed` fails with
   * SandboxFailed; the deadline with Timeout. Trap kept from the Heyo SDKs: `stopped`, `paused`
   * and `cold-stored` also return, since waiting longer cannot change them; check `status`.
   */
  readonly waitForReady: (id: string, timeout?: Duration.DurationInput) => Effect.Effect<SandboxInfo, WaitError>
  /** `DELETE /deployed-sandboxes/:id`; an unknown id is success. */
  readonly kill: (id: string) => Effect.Effect<void, KillError>
  /** `POST /sandbox/:id/stop`. */
  readonly stop: (id: string) => Effect.Effect<void, HeyoError.HttpError>
  /** `POST /sandbox/:id/start`. */
  readonly start: (id: string, options?: StartOptions) => Effect.Effect<void, HeyoError.HttpError>
  /** `POST /deployed-sandboxes/:id/restart`. */
  readonly restart: (id: string) => Effect.Effect<void, HeyoError.HttpError>
  /** `POST /deployed-sandboxes/:id/ttl`; whole seconds, rounded up; 0 or infinity = no limit. */
  readonly setTtl: (id: string, ttl: Duration.DurationInput) => Effect.Effect<void, HeyoError.HttpError>
  /**
   * `POST /deployed-sandboxes/:id/checkpoint`: cold store. Everything stops, the disk is kept,
   * status becomes `cold-stored`. Checkpoints by id are the `Checkpoint` service.
   */
  readonly coldStore: (id: string) => Effect.Effect<void, HeyoError.HttpError>
  /** `POST /deployed-sandboxes/:id/restore`: back to `running` from a cold store. */
  readonly restore: (id: string) => Effect.Effect<void, HeyoError.HttpError>
  /**
   * `POST /deployed-sandboxes/:id/replace-mount`: empties `sandboxPath` (default `/workspace`)
   * and unpacks the archive there. Archives come from `Archive.fromDir` (or `archiveDir`).
   */
  readonly replaceMount: (id: string, archiveId: string, sandboxPath?: string) => Effect.Effect<void, HeyoError.HttpError>
}

/** @since 0.1.0 */
export class Sandbox extends Context.Tag("@heyo-effect/sdk/Sandbox")<Sandbox, Service>() {}

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient | Commands.Commands | Files.Files> = Effect.gen(function*() {
  const client = yield* HeyoClient
  const backend: SandboxBackend = {
    deploy: (options) =>
      createBody(options).pipe(
        Effect.flatMap((body) => client.json(HeyoSandbox.SandboxDeployResponse, { method: "POST", path: "/sandbox-deploy", body }))
      ),
    info: (id) => client.json(HeyoSandbox.SandboxInfo, { method: "GET", path: path`/deployed-sandboxes/${id}` }),
    list: (name) => client.json(HeyoSandbox.SandboxList, { method: "GET", path: "/deployed-sandboxes", query: { name } }),
    kill: (id) =>
      client.execute({ method: "DELETE", path: path`/deployed-sandboxes/${id}` }).pipe(
        Effect.catchTag("NotFound", () => Effect.void)
      ),
    stop: (id) => client.execute({ method: "POST", path: path`/sandbox/${id}/stop` }),
    start: (id, options) => client.execute({ method: "POST", path: path`/sandbox/${id}/start`, timeout: options.timeout }),
    restart: (id) => client.execute({ method: "POST", path: path`/deployed-sandboxes/${id}/restart` }),
    setTtl: (id, ttl) =>
      encode(HeyoSandbox.TtlBody, new HeyoSandbox.TtlBody({ ttlSeconds: toSeconds(ttl) }, true)).pipe(
        Effect.flatMap((body) => client.execute({ method: "POST", path: path`/deployed-sandboxes/${id}/ttl`, body }))
      ),
    coldStore: (id) => client.execute({ method: "POST", path: path`/deployed-sandboxes/${id}/checkpoint` }),
    restore: (id) => client.execute({ method: "POST", path: path`/deployed-sandboxes/${id}/restore` }),
    replaceMount: (id, archiveId, sandboxPath) =>
      encode(HeyoArchive.ReplaceMountBody, new HeyoArchive.ReplaceMountBody({ archiveId, ...(sandboxPath === undefined ? {} : { sandboxPath }) }, true)).pipe(
        Effect.flatMap((body) => client.execute({ method: "POST", path: path`/deployed-sandboxes/${id}/replace-mount`, body }))
      )
  }
  return sandboxFrom(backend, yield* Commands.Commands, yield* Files.Files)
})

/** `Sandbox` alone, for callers who provide (or mock) Commands and Files themselves. @since 0.1.0 */
export const layerWithoutDependencies: Layer.Layer<Sandbox, never, HeyoClient | Commands.Commands | Files.Files> = Layer
  .effect(Sandbox, make)

/** `Sandbox`, `Commands`, `Files`, `Checkpoint`, `Shell`, `Network`, `Tunnel` and `Daemons`, all over the one `HeyoClient`. @since 0.1.0 */
export const layer: Layer.Layer<
  Sandbox | Commands.Commands | Files.Files | Checkpoint.Checkpoint | Shell.Shell | Network.Network | Tunnel.Tunnel | Daemons.Daemons,
  never,
  HeyoClient
> = layerWithoutDependencies.pipe(
  Layer.provideMerge(Layer.merge(Commands.layer, Files.layer)),
  Layer.merge(Layer.merge(Checkpoint.layer, Shell.layer)),
  Layer.merge(Layer.mergeAll(Network.layer, Tunnel.layer, Daemons.layer))
)

/** @since 0.1.0 */
export const create = (options?: CreateOptions) => Effect.flatMap(Sandbox, (s) => s.create(options))
/** @since 0.1.0 */
export const createScoped = (options?: CreateOptions) => Effect.flatMap(Sandbox, (s) => s.createScoped(options))
/** @since 0.1.0 */
export const connect = (id: string) => Effect.flatMap(Sandbox, (s) => s.connect(id))
/** @since 0.1.0 */
export const list = (options?: ListOptions) => Effect.flatMap(Sandbox, (s) => s.list(options))
/** @since 0.1.0 */
export const info = (id: string) => Effect.flatMap(Sandbox, (s) => s.info(id))
/** Resolves once something listens on `port` inside the sandbox (`Network.waitForPort`). @since 0.1.0 */
export const waitForPort = (id: string, port: number, timeout?: Duration.DurationInput) => Network.waitForPort(id, port, timeout)
/** @since 0.1.0 */
export const waitForReady = (id: string, timeout?: Duration.DurationInput) =>
  Effect.flatMap(Sandbox, (s) => s.waitForReady(id, timeout))
/** @since 0.1.0 */
export const kill = (id: string) => Effect.flatMap(Sandbox, (s) => s.kill(id))
/** @since 0.1.0 */
export const stop = (id: string) => Effect.flatMap(Sandbox, (s) => s.stop(id))
/** @since 0.1.0 */
export const start = (id: string, options?: StartOptions) => Effect.flatMap(Sandbox, (s) => s.start(id, options))
/** @since 0.1.0 */
export const restart = (id: string) => Effect.flatMap(Sandbox, (s) => s.restart(id))
/**
 * Packs a local directory (tar+gzip, default excludes) and uploads it as an archive, for
 * `create({ archiveId })` or `replaceMount`. Needs the `Archive` service (`Archive.layer`).
 *
 * @since 0.1.0
 */
export const archiveDir = (localPath: string, options?: Archive.FromDirOptions) =>
  Effect.flatMap(Archive.Archive, (a) => a.fromDir(localPath, options))
/** @since 0.1.0 */
export const coldStore = (id: string) => Effect.flatMap(Sandbox, (s) => s.coldStore(id))
/** @since 0.1.0 */
export const restore = (id: string) => Effect.flatMap(Sandbox, (s) => s.restore(id))
/** @since 0.1.0 */
export const replaceMount = (id: string, archiveId: string, sandboxPath?: string) =>
  Effect.flatMap(Sandbox, (s) => s.replaceMount(id, archiveId, sandboxPath))
/** @since 0.1.0 */
export const setTtl = (id: string, ttl: Duration.DurationInput) => Effect.flatMap(Sandbox, (s) => s.setTtl(id, ttl))
