/**
 * One-shot commands in a sandbox: `POST /sandbox/:id/exec`, run with `sh -c`.
 *
 * A non-zero exit code is a value (`CommandResult.exitCode`), not a failure; `runOrFail` is the
 * opt-in variant that fails with `CommandFailed`.
 *
 * @since 0.1.0
 */
import { HeyoExec } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type * as ExecEvent from "./ExecEvent.js"
import { HeyoClient, path } from "./HeyoClient.js"
import type * as HeyoError from "./HeyoError.js"
import * as ExecSessions from "./internal/execSessions.js"
import { commandsFrom, encode } from "./internal/services.js"
import type { ExecSession } from "./ExecSession.js"
import type { Process } from "./Process.js"

/**
 * `{ stdout, stderr, output, exitCode }`; `output` is stdout and stderr combined as the backend
 * reports them (some backends put everything in stdout).
 *
 * @since 0.1.0
 */
export const CommandResult = HeyoExec.ExecResponse
/** @since 0.1.0 */
export type CommandResult = HeyoExec.ExecResponse

/** @since 0.1.0 */
export interface RunOptions {
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /**
   * Client-side deadline for this call only (default: the client's timeout). It never reaches
   * the sandbox: the command may keep running after the SDK gave up.
   */
  readonly timeout?: Duration.DurationInput | undefined
}

/** A terminal of `cols` x `rows`; `true` is 80 x 24. @since 0.1.0 */
export type TtyOption = boolean | { readonly cols: number; readonly rows: number }

/** @since 0.1.0 */
export interface StreamOptions<E = never> {
  /** Positional parameters `$1...` of the `sh -c` script. */
  readonly args?: ReadonlyArray<string> | undefined
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Run on a terminal in the sandbox: output comes as Stdout only, raw terminal bytes. */
  readonly tty?: TtyOption | undefined
  /**
   * The command's stdin, sent as it is pulled (at the socket's pace), then EOF. Without it the
   * command's stdin is closed. Its failure fails the stream.
   */
  readonly stdin?: Stream.Stream<Uint8Array, E> | undefined
  /** The stream fails with Timeout after this long, and the command is ended as on interruption. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Between SIGTERM and SIGKILL when the command is ended for an interrupted consumer. Default 2 s. */
  readonly killGrace?: Duration.DurationInput | undefined
}

/** @since 0.1.0 */
export interface SpawnOptions {
  /** Positional parameters `$1...` of the `sh -c` script. */
  readonly args?: ReadonlyArray<string> | undefined
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Run on a terminal in the sandbox (`resize` applies; output is stdout only). */
  readonly tty?: TtyOption | undefined
  /** Whether `write` reaches the command. Default true; false gives it a closed stdin. */
  readonly stdin?: boolean | undefined
  /**
   * The command may outlive its client: after `detach`, closing the Scope leaves it running as a
   * session (forever, unless `maxRunAfterDisconnect`). Default false: it ends with the Scope.
   */
  readonly detachable?: boolean | undefined
  /** With `detachable`: how long it runs on without a client. Default: until it exits. */
  readonly maxRunAfterDisconnect?: Duration.DurationInput | undefined
  /** Between SIGTERM and SIGKILL when the Scope closes. Default 2 s. */
  readonly killGrace?: Duration.DurationInput | undefined
}

/** @since 0.1.0 */
export interface AttachOptions {
  /**
   * Replay the output from this byte on (heyod's offset extension): pass the `outputBytes` you
   * already hold to get each byte once. Default: the whole scrollback.
   */
  readonly offset?: number | undefined
  /** Reconnections after a lost connection, each resuming at the last byte received. Default 5. */
  readonly reconnects?: number | undefined
}

/** @since 0.1.0 */
export interface KillOptions {
  /** Default `SIGTERM`. */
  readonly signal?: string | undefined
  /** Then SIGKILL if it is still running after this long. Default 10 s; zero: signal only. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** What `stream` can fail with: any call's errors, or a server without streaming exec. @since 0.1.0 */
export type StreamError = HeyoError.HttpError | HeyoError.Unsupported

/** @since 0.1.0 */
export interface Service {
  readonly run: (
    sandboxId: string,
    command: string,
    options?: RunOptions | undefined
  ) => Effect.Effect<CommandResult, HeyoError.HttpError>
  /** Like `run`, but a non-zero exit code fails with `CommandFailed`. */
  readonly runOrFail: (
    sandboxId: string,
    command: string,
    options?: RunOptions | undefined
  ) => Effect.Effect<CommandResult, HeyoError.HttpError | HeyoError.CommandFailed>
  /**
   * Runs `sh -c command` and streams its output as it comes: Stdout and Stderr chunks, then one
   * Exit. Memory stays bounded whatever the output size: a slow consumer slows the command.
   * Interrupting the consumer ends the command: SIGTERM, then SIGKILL after `killGrace`.
   * Needs a server with the `exec-stream` extension (heyod); others fail with Unsupported.
   */
  readonly stream: <E = never>(
    sandboxId: string,
    command: string,
    options?: StreamOptions<E> | undefined
  ) => Stream.Stream<ExecEvent.ExecEvent, StreamError | E>
  /**
   * Starts `sh -c command` and hands over a Process for the Scope's life. Closing the Scope ends
   * the command (SIGTERM, then SIGKILL after `killGrace`) unless it was spawned `detachable` and
   * `detach` was called.
   */
  readonly spawn: (
    sandboxId: string,
    command: string,
    options?: SpawnOptions | undefined
  ) => Effect.Effect<Process, StreamError, Scope.Scope>
  /** The sandbox's exec sessions, running or recently exited. */
  readonly sessions: (sandboxId: string) => Effect.Effect<ReadonlyArray<ExecSession>, StreamError>
  /**
   * A session's output: the scrollback (from `offset`), then live output, then its Exit. Each
   * byte comes once, across reconnections too. Interrupting it detaches; it never ends the
   * command.
   */
  readonly attach: (
    sandboxId: string,
    sessionId: string,
    options?: AttachOptions | undefined
  ) => Stream.Stream<ExecEvent.ExecEvent, StreamError>
  /**
   * Signals a session and, past `timeout`, SIGKILLs it; gives its exit code when the server
   * reported one. A session that had already exited is not an error: none.
   */
  readonly kill: (
    sandboxId: string,
    sessionId: string,
    options?: KillOptions | undefined
  ) => Effect.Effect<Option.Option<number>, StreamError>
}

/** @since 0.1.0 */
export class Commands extends Context.Tag("@heyo-effect/sdk/Commands")<Commands, Service>() {}

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.map(HeyoClient, (client) =>
  commandsFrom(
    (id, command, options) =>
      encode(HeyoExec.ExecRequest, new HeyoExec.ExecRequest({ command, cwd: options.cwd, env: options.env }, true)).pipe(
        Effect.flatMap((body) =>
          client.json(HeyoExec.ExecResponse, { method: "POST", path: path`/sandbox/${id}/exec`, body, timeout: options.timeout })
        )
      ),
    ExecSessions.make(client)
  ))

/** @since 0.1.0 */
export const layer: Layer.Layer<Commands, never, HeyoClient> = Layer.effect(Commands, make)

/** @since 0.1.0 */
export const run = (sandboxId: string, command: string, options?: RunOptions) =>
  Effect.flatMap(Commands, (c) => c.run(sandboxId, command, options))

/** @since 0.1.0 */
export const runOrFail = (sandboxId: string, command: string, options?: RunOptions) =>
  Effect.flatMap(Commands, (c) => c.runOrFail(sandboxId, command, options))

/** @since 0.1.0 */
export const stream = <E = never>(sandboxId: string, command: string, options?: StreamOptions<E>) =>
  Stream.unwrap(Effect.map(Commands, (c) => c.stream(sandboxId, command, options)))

/** @since 0.1.0 */
export const spawn = (sandboxId: string, command: string, options?: SpawnOptions) =>
  Effect.flatMap(Commands, (c) => c.spawn(sandboxId, command, options))

/** @since 0.1.0 */
export const sessions = (sandboxId: string) => Effect.flatMap(Commands, (c) => c.sessions(sandboxId))

/** @since 0.1.0 */
export const attach = (sandboxId: string, sessionId: string, options?: AttachOptions) =>
  Stream.unwrap(Effect.map(Commands, (c) => c.attach(sandboxId, sessionId, options)))

/** @since 0.1.0 */
export const kill = (sandboxId: string, sessionId: string, options?: KillOptions) =>
  Effect.flatMap(Commands, (c) => c.kill(sandboxId, sessionId, options))
