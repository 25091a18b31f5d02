/**
 * A sandbox as a value, for the seeds' `sandbox.commands.run(...)` style. Every method delegates
 * to the `Sandbox`, `Commands` and `Files` services the handle was made from (real or mock), so
 * it adds no behaviour of its own beyond remembering the last `SandboxInfo` it saw.
 *
 * @since 0.1.0
 */
import type { HeyoSandbox } from "@heyo-effect/protocol"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type * as Commands from "./Commands.js"
import type * as Files from "./Files.js"
import type * as HeyoError from "./HeyoError.js"
import type * as Sandbox from "./Sandbox.js"

/** @since 0.1.0 */
export interface SandboxHandle extends Inspectable.Inspectable {
  readonly id: HeyoSandbox.SandboxId
  /**
   * The last info this handle saw (from create, `refresh` or `waitForReady`); `None` after
   * `connect` or a create that did not wait. A snapshot, not a live view: call `refresh`.
   */
  readonly info: Option.Option<HeyoSandbox.SandboxInfo>
  readonly commands: {
    readonly run: (command: string, options?: Commands.RunOptions) => Effect.Effect<Commands.CommandResult, HeyoError.HttpError>
    readonly runOrFail: (
      command: string,
      options?: Commands.RunOptions
    ) => Effect.Effect<Commands.CommandResult, HeyoError.HttpError | HeyoError.CommandFailed>
  }
  /** Every `Files` method with this sandbox's id filled in. */
  readonly files: HandleFiles
  /** Fetches the current info (and remembers it). */
  readonly refresh: () => Effect.Effect<HeyoSandbox.SandboxInfo, HeyoError.HttpError>
  /** Same as `refresh`, the seeds' name. */
  readonly getInfo: () => Effect.Effect<HeyoSandbox.SandboxInfo, HeyoError.HttpError>
  /** See `Sandbox.waitForReady`: a stopped/paused sandbox returns too; check `status`. */
  readonly waitForReady: (
    timeout?: Duration.DurationInput
  ) => Effect.Effect<HeyoSandbox.SandboxInfo, Sandbox.WaitError>
  readonly kill: () => Effect.Effect<void, Sandbox.KillError>
  readonly stop: () => Effect.Effect<void, HeyoError.HttpError>
  readonly start: (options?: Sandbox.StartOptions) => Effect.Effect<void, HeyoError.HttpError>
  readonly restart: () => Effect.Effect<void, HeyoError.HttpError>
  readonly setTtl: (ttl: Duration.DurationInput) => Effect.Effect<void, HeyoError.HttpError>
}

type DropId<F> = F extends (sandboxId: string, ...rest: infer A) => infer R ? (...rest: A) => R : never

/** `Files.Service` without the sandbox id argument. @since 0.1.0 */
export type HandleFiles = {
  readonly [K in Exclude<keyof Files.Service, "write">]: DropId<Files.Service[K]>
} & {
  readonly write: <E = never>(path: string, content: Files.Content<E>, options?: Files.WriteOptions) => Effect.Effect<void, Files.Error | E>
}

/** The services a handle delegates to. @since 0.1.0 */
export interface Services {
  readonly sandbox: Sandbox.Service
  readonly commands: Commands.Service
  readonly files: Files.Service
}

class HandleImpl extends Inspectable.Class implements SandboxHandle {
  #info: Option.Option<HeyoSandbox.SandboxInfo>
  readonly commands: SandboxHandle["commands"]
  readonly files: SandboxHandle["files"]

  constructor(
    readonly id: HeyoSandbox.SandboxId,
    info: Option.Option<HeyoSandbox.SandboxInfo>,
    private readonly services: Services
  ) {
    super()
    this.#info = info
    const { commands, files } = services
    this.commands = {
      run: (command, options) => commands.run(id, command, options),
      runOrFail: (command, options) => commands.runOrFail(id, command, options)
    }
    this.files = {
      read: (path, options) => files.read(id, path, options),
      readText: (path, options) => files.readText(id, path, options),
      readStream: (path, options) => files.readStream(id, path, options),
      write: (path, content, options) => files.write(id, path, content, options),
      list: (path, options) => files.list(id, path, options),
      stat: (path, options) => files.stat(id, path, options),
      exists: (path, options) => files.exists(id, path, options),
      mkdir: (path, options) => files.mkdir(id, path, options),
      remove: (path, options) => files.remove(id, path, options),
      rename: (from, to, options) => files.rename(id, from, to, options),
      copy: (from, to, options) => files.copy(id, from, to, options),
      chmod: (path, mode, options) => files.chmod(id, path, mode, options),
      chown: (path, options) => files.chown(id, path, options),
      watch: (paths, options) => files.watch(id, paths, options)
    }
  }

  get info() {
    return this.#info
  }

  private remember(info: HeyoSandbox.SandboxInfo) {
    this.#info = Option.some(info)
  }

  refresh = () => this.services.sandbox.info(this.id).pipe(Effect.tap((info) => this.remember(info)))
  getInfo = () => this.refresh()
  waitForReady = (timeout?: Duration.DurationInput) =>
    this.services.sandbox.waitForReady(this.id, timeout).pipe(Effect.tap((info) => this.remember(info)))
  kill = () => this.services.sandbox.kill(this.id)
  stop = () => this.services.sandbox.stop(this.id)
  start = (options?: Sandbox.StartOptions) => this.services.sandbox.start(this.id, options)
  restart = () => this.services.sandbox.restart(this.id)
  setTtl = (ttl: Duration.DurationInput) => this.services.sandbox.setTtl(this.id, ttl)

  toJSON() {
    return { _id: "SandboxHandle", id: this.id, info: Option.getOrNull(this.#info) }
  }
}

/** @since 0.1.0 */
export const make = (
  id: HeyoSandbox.SandboxId,
  info: Option.Option<HeyoSandbox.SandboxInfo>,
  services: Services
): SandboxHandle => new HandleImpl(id, info, services)
