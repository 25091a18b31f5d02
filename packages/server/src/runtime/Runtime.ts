/**
 * The runtime driver: turns a sandbox id into real isolated Linux processes (bubblewrap, an overlay
 * on a read-only image, a uid-shifted user namespace, a loopback-only network namespace owned by
 * heyod, cgroup limits), following reference/runtime.md. The engine above it knows nothing of
 * namespaces; everything below it knows nothing of HTTP.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"

/** A host operation failed (mount, cgroup write, spawn...). The message names what and why. */
export class RuntimeError extends Schema.TaggedError<RuntimeError>()("RuntimeError", {
  operation: Schema.String,
  message: Schema.String,
  sandboxId: Schema.optional(Schema.String)
}) {}

/** The sandbox has no running init to join (stopped, failed, or never started). */
export class SandboxNotRunning extends Schema.TaggedError<SandboxNotRunning>()("SandboxNotRunning", {
  sandboxId: Schema.String
}) {
  override get message() {
    return `sandbox ${this.sandboxId} is not running`
  }
}

/** A file operation inside the sandbox failed; `reason` is the errno-like cause. */
export class SandboxFileError extends Schema.TaggedError<SandboxFileError>()("SandboxFileError", {
  reason: Schema.Literal("NotFound", "IsDirectory", "NotDirectory", "PermissionDenied", "ReadOnly", "Other"),
  path: Schema.String,
  message: Schema.String
}) {}

export interface ResourceLimits {
  /** Memory limit in bytes (memory + swap where the kernel accounts swap). */
  readonly memoryBytes: number
  /** CPU quota in cores, e.g. 0.25. */
  readonly cpus: number
  /** Maximum number of processes/threads. */
  readonly pids: number
}

export interface ImageInfo {
  /** Canonical name, e.g. `host`. */
  readonly name: string
  /** Other names that resolve to it, e.g. `ubuntu:24.04`. */
  readonly aliases: ReadonlyArray<string>
  readonly description: string
}

export interface StartSpec {
  readonly id: string
  /** A canonical image name (see `resolveImage`). */
  readonly image: string
  readonly limits: ResourceLimits
  readonly hostname: string
}

export interface ExecSpec {
  /** argv run inside the sandbox, e.g. `["sh", "-c", "echo hi"]`. */
  readonly argv: ReadonlyArray<string>
  /** Absolute working directory inside the sandbox; created if missing? No: must exist. */
  readonly cwd: string
  /** Extra environment; the runtime supplies PATH, HOME, LANG, HOSTNAME underneath. */
  readonly env: Readonly<Record<string, string>>
  /** Bytes fed to stdin, then EOF. Omitted: stdin is /dev/null. */
  readonly stdin?: Uint8Array | undefined
}

export interface ExecOutput {
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
  /** stdout and stderr interleaved in the order the chunks arrived. */
  readonly output: Uint8Array
  /** The command's exit code; 128+N when killed by signal N. */
  readonly exitCode: number
}

export interface SpawnSpec {
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  /** true: stdin is a pipe fed through `write` and closed by `endStdin`; false: /dev/null. */
  readonly stdin: boolean
  /**
   * Run on a terminal of this size: the sandbox's own pseudo-terminal (its /dev/pts), so the
   * command has a real controlling terminal; output comes merged on `stdout`, `stderr` is empty.
   */
  readonly tty?: TerminalSize | undefined
}

export interface TerminalSize {
  readonly cols: number
  readonly rows: number
}

/**
 * A command running in a sandbox, streamed. Output is read only as the streams are pulled, so a
 * slow reader stalls the command on a full pipe instead of growing heyod's memory.
 */
export interface Process {
  /** Host pid of the process group leader. */
  readonly pid: number
  /**
   * End when the command's pipe closes, or once the command has exited and the pipe stays
   * empty: a background child (`server &`) holding the pipe never keeps them open.
   */
  readonly stdout: Stream.Stream<Uint8Array>
  readonly stderr: Stream.Stream<Uint8Array>
  /** Resolves once the pipe accepted the bytes; writes after the command exited are dropped. */
  readonly write: (data: Uint8Array) => Effect.Effect<void>
  readonly endStdin: Effect.Effect<void>
  /** Signals the whole process group; a group that is gone is fine. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Resizes the terminal of a `tty` process; nothing for a piped one. */
  readonly resize: (size: TerminalSize) => Effect.Effect<void>
  /** The exit code once the command exits; 128+N when killed by signal N. */
  readonly exitCode: Effect.Effect<number>
}

export interface RuntimeInfo {
  readonly storage: "btrfs" | "dir"
  readonly cgroups: "v1" | "v2" | "none"
  readonly instanceId: string
}

export interface Service {
  readonly info: RuntimeInfo
  readonly images: ReadonlyArray<ImageInfo>
  /** Canonical image name for a name or alias; undefined when unknown. */
  readonly resolveImage: (name: string) => string | undefined
  /** Allocates the sandbox's own filesystem (upper layer) on an image. Idempotent. */
  readonly create: (id: string, image: string) => Effect.Effect<void, RuntimeError>
  /** Mounts, limits and starts the sandbox's long-lived init. A no-op when already running. */
  readonly start: (spec: StartSpec) => Effect.Effect<void, RuntimeError>
  /** Kills every process of the sandbox and unmounts it; files persist. A no-op when stopped. */
  readonly stop: (id: string) => Effect.Effect<void, RuntimeError>
  /** Stops it and deletes its filesystem, cgroups and network namespace. Idempotent. */
  readonly destroy: (id: string) => Effect.Effect<void, RuntimeError>
  readonly isRunning: (id: string) => Effect.Effect<boolean>
  /**
   * Runs a command joined into the running sandbox and collects its output once the command
   * exits (processes it leaves in the background keep running). Interrupting the effect kills
   * the command's whole process group.
   */
  readonly exec: (id: string, spec: ExecSpec) => Effect.Effect<ExecOutput, RuntimeError | SandboxNotRunning>
  /**
   * Starts a command joined into the running sandbox, as `exec` does, with its output streamed.
   * Closing the Scope kills the command's whole process group.
   */
  readonly spawn: (
    id: string,
    spec: SpawnSpec
  ) => Effect.Effect<Process, RuntimeError | SandboxNotRunning, Scope.Scope>
  /**
   * Starts a command in the background inside the sandbox (e.g. `start_command`); its output is
   * appended to `logFile` on the host. Returns once it is spawned.
   */
  readonly spawnBackground: (
    id: string,
    spec: ExecSpec,
    logFile: string
  ) => Effect.Effect<void, RuntimeError | SandboxNotRunning>
  /** Reads a file as the sandbox's root sees it (absolute path inside the sandbox). */
  readonly readFile: (
    id: string,
    path: string
  ) => Effect.Effect<Uint8Array, SandboxFileError | RuntimeError | SandboxNotRunning>
  /** Writes a file as the sandbox's root, creating parent directories. */
  readonly writeFile: (
    id: string,
    path: string,
    data: Uint8Array
  ) => Effect.Effect<void, SandboxFileError | RuntimeError | SandboxNotRunning>
  /** Checkpoints of sandbox filesystems (Snapshots.ts); each call holds the sandbox's lock. */
  readonly checkpoints: CheckpointStore
}

/** Named, consistent copies of a sandbox's filesystem, kept until deleted or the sandbox is destroyed. */
export interface CheckpointStore {
  /** Copies the filesystem, freezing the sandbox's processes meanwhile when it runs. */
  readonly take: (id: string, name: string) => Effect.Effect<{ readonly frozenMillis: number; readonly totalMillis: number }, RuntimeError>
  /** Replaces the filesystem with a checkpoint's copy; the sandbox must be stopped. */
  readonly restore: (id: string, name: string) => Effect.Effect<void, RuntimeError>
  readonly remove: (id: string, name: string) => Effect.Effect<void, RuntimeError>
  /** Names kept on disk for a sandbox. */
  readonly list: (id: string) => Effect.Effect<ReadonlyArray<string>>
}

export class Runtime extends Context.Tag("@heyo-effect/server/Runtime")<Runtime, Service>() {}
