/**
 * An in-memory Heyo for your tests: `Testing.layer(options)` provides `Sandbox`, `Commands`,
 * `Files` and `Checkpoint` (copies of a sandbox's in-memory files) with no server. Sandboxes and their files live in memory; commands are answered by a
 * handler you supply. It is a fake, not a stub: unknown ids are NotFound, names are unique, a
 * killed sandbox is gone, a stopped one refuses commands, bad arguments are InvalidArgument,
 * and `create` / `waitForReady` / `createScoped` run the very same logic as the real service.
 *
 * ```ts
 * const test = agent.pipe(Effect.provide(Testing.layer({
 *   exec: (_id, command, { files }) =>
 *     command === "cat VERSION" ? { stdout: files.readText("VERSION") ?? "" } : { exitCode: 1 }
 * })))
 * ```
 *
 * Its `Files` is the whole interface (streams, list, stat, mkdir, remove, rename, copy, chmod,
 * chown, watch) over each sandbox's in-memory files, with the fs routes' errno-typed failures
 * (`FileNotFound`, `DirectoryNotEmpty`, ...).
 *
 * `Testing.Mock` (in the same layer) lets a test look inside and steer: the sandboxes that exist,
 * their files, the commands run, and `setStatus` to simulate a sandbox failing or booting.
 *
 * For a one-off stub, `Layer.mock` works on every service, since each is a `Context.Tag` with an
 * explicit interface; methods you leave out die with `UnimplementedError` if called:
 *
 * ```ts
 * Layer.mock(Commands.Commands, { run: () => Effect.succeed(new Commands.CommandResult({ stdout: "hi\n" })) })
 * ```
 *
 * @since 0.1.0
 */
import type { HeyoSandbox } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Checkpoint from "./Checkpoint.js"
import * as Commands from "./Commands.js"
import * as Files from "./Files.js"
import type * as HeyoError from "./HeyoError.js"
import { makeMemory } from "./internal/memory.js"
import * as Sandbox from "./Sandbox.js"

/** What a command handler answers; missing fields are `""` / `0`, `output` is stdout + stderr. @since 0.1.0 */
export interface CommandOutput {
  readonly stdout?: string | undefined
  readonly stderr?: string | undefined
  readonly output?: string | undefined
  readonly exitCode?: number | undefined
}

/** A sandbox's files, synchronously; relative paths are relative to `/workspace`. @since 0.1.0 */
export interface MemoryFiles {
  readonly read: (path: string) => Uint8Array | undefined
  readonly readText: (path: string) => string | undefined
  readonly write: (path: string, content: string | Uint8Array) => void
  readonly remove: (path: string) => boolean
  /** Absolute paths, sorted. */
  readonly list: () => ReadonlyArray<string>
}

/** @since 0.1.0 */
export interface CommandContext {
  readonly cwd: string | undefined
  readonly env: Readonly<Record<string, string>> | undefined
  /** The sandbox's files, so a handler can act like `cat` or a build writing output. */
  readonly files: MemoryFiles
  /** Everything a `Commands.stream` caller sent as stdin; undefined for `run` and stdin-less streams. */
  readonly stdin?: Uint8Array | undefined
  /** The positional parameters a `Commands.stream` caller passed (`$1...`). */
  readonly args?: ReadonlyArray<string> | undefined
}

/**
 * Answers a command. Return an Effect to take time (it runs on the test clock) or to fail like
 * the transport would (e.g. a `HeyoError.Timeout`).
 *
 * @since 0.1.0
 */
export type CommandHandler = (
  sandboxId: HeyoSandbox.SandboxId,
  command: string,
  context: CommandContext
) => CommandOutput | Effect.Effect<CommandOutput, HeyoError.HttpError>

/** A sandbox that exists before the test starts. @since 0.1.0 */
export interface SeedSandbox {
  readonly id?: string | undefined
  readonly name?: string | undefined
  /** Default `running`. */
  readonly status?: string | undefined
  readonly image?: string | undefined
  /** Paths relative to `/workspace`, or absolute. */
  readonly files?: Readonly<Record<string, string | Uint8Array>> | undefined
}

/** @since 0.1.0 */
export interface Options {
  /** Default: every command exits 127 with "no command handler" on stderr. */
  readonly exec?: CommandHandler | undefined
  readonly sandboxes?: ReadonlyArray<SeedSandbox> | undefined
  /**
   * The state a new sandbox starts in (default `running`). Return `failed` with an
   * `errorMessage` to test SandboxFailed, or `provisioning` and move it on with `Mock.setStatus`.
   */
  readonly onCreate?:
    | ((options: Sandbox.CreateOptions) => { readonly status?: string; readonly errorMessage?: string })
    | undefined
}

/** @since 0.1.0 */
export interface ExecutedCommand {
  readonly sandboxId: HeyoSandbox.SandboxId
  readonly command: string
  readonly cwd: string | undefined
  readonly env: Readonly<Record<string, string>> | undefined
}

/** A look inside the fake, for assertions and for steering it. @since 0.1.0 */
export interface MockService {
  /** The sandboxes that exist now (killed ones are gone). */
  readonly sandboxes: Effect.Effect<ReadonlyArray<HeyoSandbox.SandboxInfo>>
  /** A sandbox's files; NotFound for an unknown sandbox. */
  readonly files: (sandboxId: string) => Effect.Effect<MemoryFiles, HeyoError.NotFound>
  /** Every command run so far, in order. */
  readonly commands: Effect.Effect<ReadonlyArray<ExecutedCommand>>
  readonly setStatus: (sandboxId: string, status: string, errorMessage?: string) => Effect.Effect<void, HeyoError.NotFound>
}

/** @since 0.1.0 */
export class Mock extends Context.Tag("@heyo-effect/sdk/Testing/Mock")<Mock, MockService>() {}

/**
 * A fresh in-memory Heyo each time the layer is built: provide it per test (not through a
 * shared `layer()` block) when tests must not see each other's sandboxes.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Sandbox.Sandbox | Commands.Commands | Files.Files | Checkpoint.Checkpoint | Mock> =>
  Layer.syncContext(() => {
    const { checkpoint, commands, files, mock, sandbox } = makeMemory(options)
    return Context.make(Sandbox.Sandbox, sandbox).pipe(
      Context.add(Commands.Commands, commands),
      Context.add(Files.Files, files),
      Context.add(Checkpoint.Checkpoint, checkpoint),
      Context.add(Mock, mock)
    )
  })
